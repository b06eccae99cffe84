"""Shared pieces of the identity HTTP routes: the caller dependency and scope checks.

``Caller`` resolves the principal through the API's authenticator chain (``api/deps.py``) but
leaves the method-level read/write check to each route's explicit scope. A route states that
scope as a dependency (``Annotated[Principal, Depends(needs(...))]``), not as a ``need(...)``
call in its body: FastAPI runs dependencies before it validates the request's body and query,
so a caller without the scope is answered 403 without learning the body's schema (until
session 14 it got the 422 listing the fields first). ``need`` stays for checks that depend on
what the handler reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict

from ringfence.api.deps import Principal, current_principal
from ringfence.core.errors import PermissionDeniedError
from ringfence.identity.roles import MFA_ENROLL
from ringfence.runtime import Runtime

Caller = Annotated[Principal, Depends(current_principal)]


def need(principal: Principal, *scopes: str) -> None:
    """403 unless the caller holds every scope named."""
    missing = set(scopes) - principal.scopes
    if missing:
        hint = " (complete MFA enrolment first)" if MFA_ENROLL in principal.scopes else ""
        raise PermissionDeniedError(
            f"this action needs the scopes {sorted(missing)}{hint}", code="insufficient_scope"
        )


def needs(*scopes: str) -> Callable[[Principal], Principal]:
    """A dependency: the caller, if it holds every scope named; 403 otherwise."""

    def dependency(principal: Caller) -> Principal:
        need(principal, *scopes)
        return principal

    return dependency


def needs_any(first: str, *others: str) -> Callable[[Principal], Principal]:
    """A dependency: the caller, if it holds any of the scopes; 403 naming ``first``."""

    def dependency(principal: Caller) -> Principal:
        if not ({first, *others} & principal.scopes):
            need(principal, first)
        return principal

    return dependency


def runtime_of(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


class StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
