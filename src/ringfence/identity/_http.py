"""Shared pieces of the identity HTTP routes: the caller dependency and scope checks.

``Caller`` resolves the principal through the API's authenticator chain (``api/deps.py``) but
leaves the method-level read/write check to each route's explicit ``need(...)``.
"""

from __future__ import annotations

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


def runtime_of(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


class StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
