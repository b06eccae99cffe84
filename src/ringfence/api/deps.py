"""Who is calling the control-plane API, and may they: the injectable auth dependencies.

Every ``/api/v1`` route except ``/api/v1/health`` depends on :func:`authorize`, which resolves
the caller to a :class:`Principal` and checks the scope the HTTP method needs (``read`` for
GET/HEAD/OPTIONS, ``write`` for everything else). Routes that need the caller (for the audit
actor) take ``principal: Annotated[Principal, Depends(authorize)]``; FastAPI caches it per
request. Failures are ``AuthenticationError`` (401) or ``PermissionDeniedError`` (403), which
the app renders as problem+json. This module never logs or echoes a presented credential.

Extension point (identity capability): authentication is a chain of :class:`Authenticator`
objects on ``app.state.authenticators``, tried in order. Each returns ``None`` when the
request carries no credential of its kind, a ``Principal`` when it does and it is valid, and
raises ``AuthenticationError`` when it carries a bad one. Today the chain holds one
:class:`BearerTokenAuthenticator` (``rf_cp_...`` control-plane tokens). To add users, append
e.g. a session-cookie or OIDC/JWT authenticator with :func:`add_authenticator` that returns
``Principal(kind="user", roles={...}, scopes=scopes_for_roles(roles))``; fill
:data:`ROLE_SCOPES` (admin, security-analyst, auditor, integration-owner) with the scopes each
role grants, and, for finer rules than read/write, give a route
``dependencies=[Depends(require_scopes("audit:read"))]``. Routes need no change.

Identity extension (added by the identity capability, on top of the design above):
:data:`ROLE_SCOPES` comes from ``ringfence.identity.roles``; ``install_auth`` appends the
personal-token (``rf_pat_...``) and session-cookie authenticators of ``ringfence.identity.auth``
(cookie requests with unsafe methods must carry the CSRF token; an admin without MFA gets only
``mfa:enroll``; only a session sets ``via_session`` and, when it presented a second factor,
``mfa_passed``); ``Principal.person_id`` links a user to the inventory person, and ``authorize``
lets an ``integration-owner`` (scope ``integrations:own``, no ``read``/``write``) through only
for integrations that person owns (``ringfence.identity.ownership.owner_may``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import Scope

from ringfence.core.errors import AuthenticationError, PermissionDeniedError
from ringfence.identity.auth import identity_authenticators
from ringfence.identity.ownership import owner_may
from ringfence.identity.roles import AUDIT_READ, MFA_ENROLL, OWN_INTEGRATIONS, SELF
from ringfence.identity.roles import ROLE_SCOPES as IDENTITY_ROLE_SCOPES
from ringfence.inventory.repository import InvalidFieldError
from ringfence.runtime import Runtime
from ringfence.store.apitokens import TOKEN_PREFIX, ApiTokens

READ = "read"
WRITE = "write"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Role → scopes it grants. Empty until the identity capability defines roles; a principal's
# ``scopes`` are always the effective ones, so checks never consult roles directly.
ROLE_SCOPES: dict[str, frozenset[str]] = dict(IDENTITY_ROLE_SCOPES)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a control-plane token today, a user or service account later."""

    id: str
    name: str
    kind: str  # "token" | (later) "user" | "service_account"
    scopes: frozenset[str]
    roles: frozenset[str] = field(default_factory=frozenset)
    person_id: str | None = None  # identity: the inventory person a user is
    # True only for a console session that presented a second factor (TOTP, recovery code, or
    # an IdP's amr); credentials must not be minted from anything else. Fails closed: a
    # principal that does not say otherwise has not passed MFA.
    mfa_passed: bool = False
    # True only when the caller authenticated with the console session cookie. Personal
    # tokens and MFA enrolment are managed from a session, never with a bearer token (a
    # 1-day token must not mint a 365-day one, nor enrol a second factor for its owner).
    via_session: bool = False

    @property
    def actor(self) -> str:
        """How the audit log names this caller, e.g. ``token:ci-deploy``."""
        return f"{self.kind}:{self.name}"

    def has_scopes(self, needed: Iterable[str]) -> bool:
        return set(needed) <= self.scopes


def scopes_for_roles(roles: Iterable[str]) -> frozenset[str]:
    granted: set[str] = set()
    for role in roles:
        granted |= ROLE_SCOPES.get(role, frozenset())
    return frozenset(granted)


class Authenticator(Protocol):
    def authenticate(self, request: Request) -> Principal | None: ...


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise AuthenticationError(
            "the Authorization header must be `Bearer <token>`", code="invalid_token"
        )
    return credential.strip()


class BearerTokenAuthenticator:
    """``Authorization: Bearer rf_cp_...`` checked against the hashed control-plane tokens.

    A control-plane token's ``read`` also reads the audit log (``audit:read``): such tokens are
    made by the operator on the server and hold only ``read``/``write``, and "every GET" is
    what ``read`` has always meant for them."""

    def __init__(self, tokens: ApiTokens) -> None:
        self._tokens = tokens

    def authenticate(self, request: Request) -> Principal | None:
        token = _bearer(request)
        if token is None or not token.startswith(TOKEN_PREFIX):
            return None
        found = self._tokens.authenticate(token)
        scopes = found.scopes | {AUDIT_READ} if READ in found.scopes else found.scopes
        return Principal(id=found.id, name=found.name, kind="token", scopes=scopes)


def install_auth(app: FastAPI, runtime: Runtime) -> None:
    app.state.authenticators = [BearerTokenAuthenticator(ApiTokens(runtime.store, runtime.clock))]
    app.state.authenticators.extend(identity_authenticators())
    document_scopes(app)


def add_authenticator(app: FastAPI, authenticator: Authenticator) -> None:
    app.state.authenticators.append(authenticator)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


# Declares the bearer scheme in the OpenAPI document (the "Authorize" button); parsing and
# checking are ours, so it never raises by itself.
_bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="ControlPlaneToken",
    description="A control-plane API token `rf_cp_...` (`ringfence token create`).",
)


def current_principal(
    request: Request,
    _documented: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)],
) -> Principal:
    """The caller, or 401: missing, malformed, unknown, expired and revoked all look alike."""
    authenticators: Sequence[Authenticator] = request.app.state.authenticators
    for authenticator in authenticators:
        principal = authenticator.authenticate(request)
        if principal is not None:
            return principal
    if request.headers.get("authorization") is not None:
        raise AuthenticationError("invalid or expired API token", code="invalid_token")
    raise AuthenticationError(
        "authentication required: send `Authorization: Bearer rf_cp_...` "
        "(create a token with `ringfence token create`)",
        code="unauthenticated",
    )


async def admit_body(scope: Scope, scopes: frozenset[str]) -> None:
    """May the caller these headers name send a large body here? (``api/limits.BodyGuard``)

    Called before the body is read, so only headers count: the same authenticator chain as
    :func:`current_principal` (a bearer token, or the session cookie with its CSRF token on an
    unsafe method). Raises 401 without a valid credential, 403 when the caller may manage only
    itself or lacks ``scopes``; the route still runs its own checks once admitted."""
    request = Request(scope)
    principal = await run_in_threadpool(current_principal, request, None)
    if not principal.scopes - _SELF_ONLY or not principal.has_scopes(scopes):
        needs = f"the scopes {sorted(scopes)}" if scopes else "a scope beyond your own profile"
        raise PermissionDeniedError(
            f"a body this large needs {needs} here; the caller has {sorted(principal.scopes)}",
            code="insufficient_scope",
        )


def authorize(
    principal: Annotated[Principal, Depends(current_principal)], request: Request
) -> Principal:
    """The caller, if it holds the scope the HTTP method needs; 403 otherwise."""
    needed = READ if request.method in _SAFE_METHODS else WRITE
    if not principal.has_scopes([needed]) and not owner_may(
        principal.person_id, principal.scopes, request
    ):
        raise PermissionDeniedError(
            f"this {request.method} needs the {needed!r} scope; the caller has "
            f"{sorted(principal.scopes)}",
            code="insufficient_scope",
        )
    return principal


# Scopes that let a caller manage only itself: an admin session that has not passed MFA holds
# just these, as may a personal token. They open no capability's route.
_SELF_ONLY = frozenset({MFA_ENROLL, SELF})


def any_capability(
    principal: Annotated[Principal, Depends(current_principal)],
) -> Principal:
    """The caller, if it holds any scope beyond managing itself; 403 otherwise.

    For routes open to every authenticated caller rather than to one scope (classify: scanning
    a payload the caller already holds). An admin whose session has not passed MFA, or a
    token holding only ``self``, reaches its profile and MFA only."""
    if not principal.scopes - _SELF_ONLY:
        raise PermissionDeniedError(
            "this route needs a scope beyond your own profile and MFA; the caller has "
            f"{sorted(principal.scopes)}"
            + (" (complete MFA first)" if MFA_ENROLL in principal.scopes else ""),
            code="insufficient_scope",
        )
    return principal


def reject_nul_characters(request: Request) -> None:
    """Refuse U+0000 in path and query parameters (PostgreSQL cannot compare such text)."""
    for where, params in (("path", request.path_params), ("query", request.query_params)):
        for key, value in params.items():
            if "\x00" in str(key) or "\x00" in str(value):
                raise InvalidFieldError(
                    f"{where}.{key}",
                    "must not contain NUL (U+0000) characters",
                    code="validation_error",
                )


def require_scopes(*scopes: str) -> Callable[[Principal], Principal]:
    """A dependency demanding extra scopes on one route, beyond what the method needs."""

    def dependency(principal: Annotated[Principal, Depends(authorize)]) -> Principal:
        if not principal.has_scopes(scopes):
            raise PermissionDeniedError(
                f"this route needs the scopes {sorted(scopes)}", code="insufficient_scope"
            )
        return principal

    dependency.required_scopes = frozenset(scopes)  # type: ignore[attr-defined]
    return dependency


# -- the OpenAPI document says which scope each operation needs -----------------------------
_SCHEME = "ControlPlaneToken"
# Where ``authorize`` lets an integration-owner through (``identity.ownership.owner_may``).
_OWNER_OPERATIONS = frozenset(
    {("GET", "/api/v1/integrations/{ref}"), ("POST", "/api/v1/integrations/{ref}/quarantine")}
)


def _calls(dependant: Any) -> list[Any]:
    out: list[Any] = []
    for sub in dependant.dependencies:
        out.append(sub.call)
        out.extend(_calls(sub))
    return out


def _alternatives(calls: Sequence[Any], method: str, path: str) -> list[list[str]] | None:
    """The scope sets any one of which opens the operation, or None if the route decides
    itself (identity's routes check explicit scopes in the handler: docs/identity.md)."""
    needed: set[str] = set()
    known = False
    for call in calls:
        if call is authorize:
            needed.add(READ if method in _SAFE_METHODS else WRITE)
            known = True
        elif call is any_capability:
            known = True
        scopes = getattr(call, "required_scopes", None)
        if isinstance(scopes, frozenset):
            needed |= scopes
            known = True
    if not known:
        return None
    out = [sorted(needed)]
    if authorize in calls and (method, path) in _OWNER_OPERATIONS:
        out.append([OWN_INTEGRATIONS])  # only for integrations the caller's person owns
    return out


def document_scopes(app: FastAPI) -> None:
    """Put each operation's required scopes in the OpenAPI document, from the dependencies
    that enforce them: ``security: [{ControlPlaneToken: [scopes]}]`` (OpenAPI 3.1 lets a
    non-OAuth scheme list required roles/scopes) and ``x-required-scopes``; an empty list
    with ``any_capability`` means any scope beyond ``self`` / ``mfa:enroll``."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        paths = schema.get("paths", {})
        for ctx in iter_route_contexts(app.routes):
            path = ctx.path_format
            if not isinstance(ctx.original_route, APIRoute) or path is None or path not in paths:
                continue
            calls = _calls(ctx.dependant)
            for method in ctx.methods or ():
                operation = paths[path].get(method.lower())
                alternatives = _alternatives(calls, method, path)
                if operation is None or alternatives is None:
                    continue
                operation["security"] = [{_SCHEME: scopes} for scopes in alternatives]
                operation["x-required-scopes"] = alternatives[0]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


CurrentPrincipal = Annotated[Principal, Depends(authorize)]
