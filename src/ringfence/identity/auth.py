"""Authenticators the API's chain uses for users: session cookies and personal API tokens.

Plugged into ``app.state.authenticators`` by ``api/deps.install_auth``. A cookie-authenticated
unsafe request must carry the session's CSRF token (``X-CSRF-Token`` header or ``csrf_token``
form field); bearer tokens need none. An admin whose session has not passed MFA gets only the
``mfa:enroll`` scope; any session's ``Principal.mfa_passed`` is what that session presented
(password alone, or SSO without ``amr`` MFA: False), never inferred from the roles. Never logs a
cookie or token.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from fastapi import Request, Response

from ringfence.core.errors import AuthenticationError, PermissionDeniedError
from ringfence.identity.accounts import PAT_PREFIX, Accounts, csrf_for
from ringfence.identity.roles import MFA_ENROLL, SELF, needs_mfa, scopes_of
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime

if TYPE_CHECKING:
    from ringfence.api.deps import Principal

SESSION_COOKIE = "rf_session"
CSRF_COOKIE = "rf_csrf"
# Secure cookies (the default, HTTPS) carry the ``__Host-`` prefix: browsers accept such a
# cookie only with Secure, Path=/ and no Domain, so a sibling subdomain or a plain-HTTP page
# cannot plant (toss) a session or CSRF cookie for the console. Browsers refuse ``__Host-``
# cookies without Secure, so the plain-HTTP loopback demo (``cookie_secure=false``) uses the
# bare names; each mode reads only its own names.
HOST_PREFIX = "__Host-"
CSRF_HEADER = "x-csrf-token"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def settings_of(request: Request) -> IdentitySettings:
    settings = getattr(request.app.state, "identity_settings", None)
    if settings is None:
        settings = IdentitySettings()
        request.app.state.identity_settings = settings
    return settings


def session_cookie_name(settings: IdentitySettings) -> str:
    return HOST_PREFIX + SESSION_COOKIE if settings.cookie_secure else SESSION_COOKIE


def csrf_cookie_name(settings: IdentitySettings) -> str:
    return HOST_PREFIX + CSRF_COOKIE if settings.cookie_secure else CSRF_COOKIE


def session_token_of(request: Request) -> str | None:
    """The session cookie's value under the name this deployment uses (see HOST_PREFIX)."""
    return request.cookies.get(session_cookie_name(settings_of(request)))


def clear_session_cookies(request: Request, response: Response) -> None:
    """Expire both console cookies; with the same attributes they were set with (a browser
    ignores a ``__Host-`` Set-Cookie without Secure, deletions included)."""
    settings = settings_of(request)
    for name, httponly in (
        (session_cookie_name(settings), True),
        (csrf_cookie_name(settings), False),
    ):
        response.delete_cookie(
            name, path="/", secure=settings.cookie_secure, httponly=httponly, samesite="strict"
        )


def accounts_for(request: Request) -> Accounts:
    runtime: Runtime = request.app.state.runtime
    hasher = getattr(request.app.state, "password_hasher", None)
    return Accounts(runtime.store, runtime.vault, runtime.clock, settings_of(request), hasher)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, credential = header.partition(" ")
    return credential.strip() if scheme.lower() == "bearer" else None


class PersonalTokenAuthenticator:
    """``Authorization: Bearer rf_pat_...``: a user's own scoped, expiring token."""

    def authenticate(self, request: Request) -> Principal | None:
        from ringfence.api.deps import Principal

        token = _bearer(request)
        if token is None or not token.startswith(PAT_PREFIX):
            return None
        ident = accounts_for(request).authenticate_token(token)
        return Principal(
            id=ident.user_id,
            name=ident.username,
            kind="user",
            scopes=ident.scopes,
            roles=frozenset(ident.roles),
            person_id=ident.person_id,
        )


class SessionCookieAuthenticator:
    """The console's session cookie, with CSRF checking on unsafe methods."""

    def authenticate(self, request: Request) -> Principal | None:
        from ringfence.api.deps import Principal

        token = session_token_of(request)
        if not token or request.headers.get("authorization"):
            return None
        info = accounts_for(request).resolve_session(token)
        if info is None:
            raise AuthenticationError("your session has expired: sign in again", code="session")
        if request.method not in _SAFE:
            presented = request.headers.get(CSRF_HEADER, "")
            if not presented or not hmac.compare_digest(presented, csrf_for(token)):
                raise PermissionDeniedError(
                    "missing or wrong CSRF token (send X-CSRF-Token)", code="csrf"
                )
        scopes = scopes_of(info.roles)
        # MFA is owed when the role requires it, and also by any user enrolled here: a
        # session that skipped the factor they have (an SSO sign-in whose provider asserted
        # no MFA) must step up before it acts, as their password sign-in would have.
        required = settings_of(request).mfa_required_roles
        if (needs_mfa(info.roles, required) or info.enrolled) and not info.mfa_passed:
            scopes = frozenset({MFA_ENROLL, SELF})
        return Principal(
            id=info.user_id,
            name=info.username,
            kind="user",
            scopes=scopes,
            roles=frozenset(info.roles),
            person_id=info.person_id,
            # What the session really presented, whatever the roles require: a role without
            # mandatory MFA keeps its scopes, but a credential minted from this session must
            # not outlive the second factor the user enrols later (issue_my_token checks it).
            mfa_passed=info.mfa_passed,
            via_session=True,
        )


def identity_authenticators() -> list[PersonalTokenAuthenticator | SessionCookieAuthenticator]:
    return [PersonalTokenAuthenticator(), SessionCookieAuthenticator()]
