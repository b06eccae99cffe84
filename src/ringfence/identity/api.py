"""HTTP routes of identity: console sign-in (``/auth``) and ``/api/v1/identity`` management.

``/auth/login`` and ``/auth/logout`` accept forms or JSON and manage the session cookie
(HttpOnly, Secure, SameSite=Strict) plus the readable CSRF cookie. Every ``/api/v1/identity``
route resolves the caller through the API's Principal dependency and checks an explicit scope.
Secrets (tokens, recovery codes, TOTP URIs) are returned once, at issue, and never again.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import (
    BaseModel,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
)
from sqlalchemy import or_, select

from ringfence.api.deps import Principal
from ringfence.core.errors import (
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from ringfence.identity import lifecycle
from ringfence.identity._http import Caller, StrictBody, need, needs, needs_any, runtime_of
from ringfence.identity.accounts import Accounts, csrf_for
from ringfence.identity.auth import (
    accounts_for,
    clear_session_cookies,
    csrf_cookie_name,
    session_cookie_name,
    session_token_of,
    settings_of,
)
from ringfence.identity.models import ConsoleUser, IdentityFinding, PersonalToken
from ringfence.identity.oidc import STATE_TTL, OidcRelyingParty
from ringfence.identity.reviews_api import reviews_router
from ringfence.identity.roles import (
    IDENTITY_ADMIN,
    LIFECYCLE,
    MFA_ENROLL,
    SELF,
)
from ringfence.identity.scim import ScimTokens
from ringfence.store.models import Person

auth_router = APIRouter(prefix="/auth", tags=["auth"])
router = APIRouter(prefix="/api/v1/identity", tags=["identity"])


# -- sign-in --------------------------------------------------------------------------------
class LoginIn(StrictBody):
    username: StrictStr = Field(min_length=1, max_length=320)
    password: StrictStr = Field(min_length=1, max_length=1024)
    otp: StrictStr | None = Field(default=None, max_length=12)
    recovery_code: StrictStr | None = Field(default=None, max_length=20)


# Read by hand (a form or JSON), so FastAPI infers no body: declared for clients and fuzzers.
_LOGIN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            media: {"schema": LoginIn.model_json_schema()}
            for media in ("application/json", "application/x-www-form-urlencoded")
        },
    }
}
MAX_AUTH_BODY = 64 * 1024  # /auth is outside /api/ (no BodyGuard): sign-in bodies are tiny


class _BodyTooLarge(ValidationError):
    code = "payload_too_large"
    status = 413
    title = "Payload too large"


async def _read_capped(request: Request) -> None:
    """Buffer the body, refusing more than MAX_AUTH_BODY bytes before reading past it."""
    too_large = _BodyTooLarge(f"request body exceeds {MAX_AUTH_BODY} bytes")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_AUTH_BODY):
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_AUTH_BODY:
            raise too_large
        chunks.append(chunk)
    # Starlette's own Request.body() caches here; json() and form() then read the buffer.
    request._body = b"".join(chunks)


async def _form_or_json(request: Request, model: type[BaseModel]) -> Any:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    await _read_capped(request)
    try:
        if ctype == "application/json":
            data: Any = await request.json()
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.form()
            data = {k: v for k, v in form.items() if isinstance(v, str) and v != ""}
            data.pop("csrf_token", None)
        else:
            raise ValidationError("send a form or JSON body")
    except (ValueError, RecursionError):
        raise ValidationError("request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ValidationError("request body must be an object")
    from pydantic import ValidationError as PydanticValidationError

    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()
        ]
        raise ValidationError(
            "; ".join(f"{p['field']}: {p['problem']}" for p in problems), errors=problems
        ) from None


def set_session_cookies(
    request: Request, response: Response, accounts: Accounts, token: str
) -> str:
    settings = settings_of(request)
    age = settings.session_ttl_minutes * 60
    csrf = csrf_for(token)
    # __Host- names on HTTPS (Secure, Path=/, no Domain): see auth.HOST_PREFIX
    response.set_cookie(
        session_cookie_name(settings),
        token,
        max_age=age,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="strict",
        path="/",
    )
    response.set_cookie(
        csrf_cookie_name(settings),
        csrf,
        max_age=age,
        httponly=False,
        secure=settings.cookie_secure,
        samesite="strict",
        path="/",
    )
    return csrf


def _refuse_cross_site(request: Request) -> None:
    """Login CSRF: refuse a sign-in a browser sent from another site's page.

    Browsers send ``Sec-Fetch-Site`` and ``Origin`` (or at least ``Referer``) on form posts;
    non-browser clients send none of them and are not affected. Hosts are compared, not
    schemes, so a TLS-terminating proxy in front does not break same-site sign-in."""
    refused = PermissionDeniedError("cross-site sign-in refused", code="csrf")
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
        raise refused
    # A proxy may rewrite Host; X-Forwarded-Host is as good for this check, because a page on
    # another site cannot make the victim's browser send either header with a chosen value.
    hosts = {request.headers.get("host", "").lower()}
    forwarded = request.headers.get("x-forwarded-host")
    if forwarded:
        hosts.add(forwarded.split(",")[0].strip().lower())
    source = request.headers.get("origin") or request.headers.get("referer")
    if source is None:
        return
    if source.strip().lower() == "null" or urlsplit(source.strip()).netloc.lower() not in hosts:
        raise refused


@auth_router.post("/login", openapi_extra=_LOGIN_BODY)
async def login(request: Request, response: Response) -> dict[str, Any]:
    """Password sign-in (plus TOTP or a recovery code when enrolled)."""
    _refuse_cross_site(request)
    body = await _form_or_json(request, LoginIn)
    accounts = accounts_for(request)
    from starlette.concurrency import run_in_threadpool

    outcome = await run_in_threadpool(
        lambda: accounts.login_password(
            body.username,
            body.password,
            otp=body.otp,
            recovery_code=body.recovery_code,
            client_ip=request.client.host if request.client else None,
        )
    )
    token = await run_in_threadpool(
        lambda: accounts.sign_in_session(
            outcome.user_id,
            mfa_passed=outcome.mfa_passed,
            method="password",
            replacing=session_token_of(request),
        )
    )
    csrf = set_session_cookies(request, response, accounts, token.get_secret_value())
    return {
        "username": outcome.username,
        "mfa_passed": outcome.mfa_passed,
        "must_enroll_mfa": outcome.must_enroll_mfa,
        "csrf_token": csrf,
    }


@auth_router.post("/logout", status_code=204)
async def logout(request: Request) -> Response:
    """End the cookie session. Needs the CSRF token: ``X-CSRF-Token`` header, or a
    ``csrf_token`` field when posted by an HTML form (which cannot set headers)."""
    presented = request.headers.get("x-csrf-token", "")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    form_post = ctype in ("application/x-www-form-urlencoded", "multipart/form-data")
    if not presented and form_post:
        await _read_capped(request)  # 413 before anything else, signed in or not
    token = session_token_of(request)
    if not token:
        raise AuthenticationError("not signed in", code="unauthenticated")
    if not presented and form_post:
        field = (await request.form()).get("csrf_token")
        presented = field if isinstance(field, str) else ""
    if not presented or not hmac.compare_digest(presented, csrf_for(token)):
        raise PermissionDeniedError("missing or wrong CSRF token", code="csrf")
    from starlette.concurrency import run_in_threadpool

    await run_in_threadpool(accounts_for(request).revoke_session, token)
    response = Response(status_code=204)
    clear_session_cookies(request, response)
    return response


def relying_party(request: Request) -> OidcRelyingParty:
    """One relying party per app (it caches the provider metadata and JWKS)."""
    rp: OidcRelyingParty | None = getattr(request.app.state, "oidc_rp", None)
    if rp is None:
        settings = settings_of(request)
        if not settings.oidc_configured:
            # SSO is optional: without it its routes do not exist (a client's 404, not a 500).
            raise NotFoundError(
                "SSO sign-in is not configured on this server; sign in with a password",
                code="sso_not_configured",
            )
        rt = runtime_of(request)
        http = getattr(request.app.state, "oidc_http", None)
        rp = OidcRelyingParty(settings, rt.store, rt.vault, rt.clock, http)
        request.app.state.oidc_rp = rp
    return rp


OIDC_STATE_COOKIE = "rf_oidc_state"
_OIDC_COOKIE_PATH = "/auth/oidc"


@auth_router.get("/oidc/login")
def oidc_login(request: Request) -> Response:
    """Redirect the browser to the identity provider (code flow with PKCE).

    The state also goes into an HttpOnly cookie, so the callback completes only in the browser
    that started the sign-in (a callback URL sent to someone else cannot sign them in)."""
    url = relying_party(request).start()
    state = parse_qs(urlsplit(url).query).get("state", [""])[0]
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(
        OIDC_STATE_COOKIE,
        state,
        max_age=int(STATE_TTL.total_seconds()),
        httponly=True,
        secure=settings_of(request).cookie_secure,
        samesite="lax",  # the provider's redirect back is a cross-site top-level GET
        path=_OIDC_COOKIE_PATH,
    )
    return response


def _console_landing(accounts: Accounts, user_id: str, mfa_passed: bool) -> str:
    """Where the browser goes after SSO: the console, or its MFA page when the session still
    has to pass MFA there (an admin, who must; a user enrolled here, who steps up)."""
    if not mfa_passed:
        user = accounts.get_user(user_id)
        if accounts.needs_mfa(user.roles) or user.totp_confirmed:
            return "/console/mfa"
    return "/console/"


@auth_router.get("/oidc/callback")
def oidc_callback(
    request: Request, code: str | None = None, state: str | None = None, error: str | None = None
) -> Response:
    """The provider sends the browser back here; on success the session cookie is set."""
    if error:
        raise AuthenticationError(
            f"the identity provider refused the sign-in ({error[:60]})", code="oidc"
        )
    if not code or not state or len(code) > 2048 or len(state) > 512:
        raise ValidationError("the callback needs `code` and `state`")
    started = request.cookies.get(OIDC_STATE_COOKIE, "")
    if not started or not hmac.compare_digest(started.encode(), state.encode()):
        raise AuthenticationError(
            "this sign-in was not started in this browser: start again", code="oidc_state"
        )
    login_ = relying_party(request).finish(code=code, state=state)
    accounts = accounts_for(request)
    token = accounts.sign_in_session(
        login_.user_id,
        mfa_passed=login_.mfa_passed,
        method="oidc",
        replacing=session_token_of(request),
    )
    response = RedirectResponse(_console_landing(accounts, login_.user_id, login_.mfa_passed), 303)
    response.delete_cookie(OIDC_STATE_COOKIE, path=_OIDC_COOKIE_PATH)
    set_session_cookies(request, response, accounts, token.get_secret_value())
    return response


# -- self service ---------------------------------------------------------------------------
@router.get("/me")
def me(caller: Caller) -> dict[str, Any]:
    return {
        "id": caller.id,
        "name": caller.name,
        "kind": caller.kind,
        "roles": sorted(caller.roles),
        "scopes": sorted(caller.scopes),
        "person_id": caller.person_id,
    }


def _user_id(caller: Principal) -> str:
    if caller.kind != "user":
        raise PermissionDeniedError("only users have a profile, MFA and personal tokens")
    return caller.id


def _from_session(caller: Principal, what: str) -> None:
    """Token issuance and MFA changes only from a console session (cookie): a personal token,
    even one holding ``self``, must not mint a longer-lived token or enrol a second factor
    (whoever holds a leaked token would then own the account's MFA)."""
    _user_id(caller)
    if not caller.via_session:
        raise PermissionDeniedError(
            f"{what} only from a console session (sign in), not with an API token",
            code="session_required",
        )


def _own_session(what: str, *, mfa_passed: bool = False) -> Callable[[Principal], Principal]:
    """A dependency: a user managing itself (``self``, or ``mfa:enroll`` for MFA) from a console
    session — and, with ``mfa_passed``, a session that presented its second factor."""
    needed = needs_any(SELF) if mfa_passed else needs_any(SELF, MFA_ENROLL)

    # a default, not an Annotated hint: the hint would be a string naming a closure variable
    def dependency(caller: Principal = Depends(needed)) -> Principal:
        _from_session(caller, what)
        if mfa_passed and not caller.mfa_passed:
            # A session that never presented the second factor (password alone, opened before
            # enrolment, or an SSO sign-in without MFA) must not turn itself into a long-lived
            # credential that outlives the factor enrolled later — whatever the user's roles.
            raise PermissionDeniedError(
                "personal tokens need a session that passed MFA: enrol TOTP "
                "(/console/mfa or POST /api/v1/identity/me/mfa/totp), or verify your code "
                "(POST /api/v1/identity/me/mfa/verify) if you are enrolled",
                code="mfa_required",
            )
        return caller

    return dependency


# Each route names who may call it as a dependency, so it is checked before the body and the
# query are validated: a caller who may not use a route learns nothing of its schema (403,
# not 422). See identity/_http.py.
SelfCaller = Annotated[Principal, Depends(needs(SELF))]
EnrollingCaller = Annotated[Principal, Depends(_own_session("MFA is enrolled"))]
VerifyingCaller = Annotated[Principal, Depends(_own_session("MFA is verified"))]
TokenMinter = Annotated[
    Principal, Depends(_own_session("personal tokens are issued", mfa_passed=True))
]
IdentityAdmin = Annotated[Principal, Depends(needs(IDENTITY_ADMIN))]
LifecycleCaller = Annotated[Principal, Depends(needs(LIFECYCLE))]


@router.post("/me/mfa/totp")
def enroll_totp(request: Request, caller: EnrollingCaller) -> dict[str, str]:
    """Start TOTP enrolment: returns the otpauth URI and a QR code (SVG data URI), once."""
    enrol = accounts_for(request).begin_totp(
        _user_id(caller), session_token=session_token_of(request)
    )
    return {
        "provisioning_uri": enrol.provisioning_uri.get_secret_value(),
        "qr_svg_data_uri": enrol.qr_svg_data_uri.get_secret_value(),
    }


class CodeIn(StrictBody):
    code: StrictStr = Field(min_length=6, max_length=6, pattern=r"^\d{6}$")


@router.post("/me/mfa/totp/confirm")
def confirm_totp(
    request: Request, response: Response, body: CodeIn, caller: EnrollingCaller
) -> dict[str, Any]:
    """Confirm with a first code; returns the one-time recovery codes (shown once).

    A cookie session is replaced by a new, MFA-passed one (new session cookie and CSRF token,
    the old session id stops working)."""
    accounts = accounts_for(request)
    user_id = _user_id(caller)
    token = session_token_of(request)
    codes = accounts.confirm_totp(user_id, body.code, actor=caller.actor, keep_session=token)
    out: dict[str, Any] = {"recovery_codes": codes}
    if token:
        fresh = accounts.rotate_session_after_mfa(token, user_id)
        if fresh is not None:
            out["csrf_token"] = set_session_cookies(
                request, response, accounts, fresh.get_secret_value()
            )
    return out


class StepUpIn(StrictBody):
    code: StrictStr | None = Field(default=None, min_length=6, max_length=6, pattern=r"^\d{6}$")
    recovery_code: StrictStr | None = Field(default=None, min_length=1, max_length=40)


@router.post("/me/mfa/verify")
def verify_mfa(
    request: Request, response: Response, body: StepUpIn, caller: VerifyingCaller
) -> dict[str, Any]:
    """Pass MFA in this session (a console session from an SSO sign-in whose provider did not
    assert MFA): your TOTP code or a recovery code. The session is replaced by an MFA-passed
    one (new session cookie and CSRF token); failures count towards the sign-in lockout."""
    if (body.code is None) == (body.recovery_code is None):
        raise ValidationError("send either `code` (6 digits) or `recovery_code`")
    token = session_token_of(request)
    if not token or request.headers.get("authorization"):
        raise ValidationError("MFA is verified for a console session (cookie), not a token")
    accounts = accounts_for(request)
    fresh = accounts.step_up(
        token, _user_id(caller), otp=body.code, recovery_code=body.recovery_code
    )
    return {
        "mfa_passed": True,
        "csrf_token": set_session_cookies(request, response, accounts, fresh.get_secret_value()),
    }


class TokenIn(StrictBody):
    name: StrictStr = Field(min_length=1, max_length=200)
    scopes: list[StrictStr] = Field(min_length=1, max_length=20)
    ttl_days: StrictInt = Field(default=30, ge=1, le=3650)


def _token_out(tok: PersonalToken) -> dict[str, Any]:
    return {
        "id": tok.id,
        "name": tok.name,
        "scopes": tok.scopes,
        "created_at": tok.created_at,
        "expires_at": tok.expires_at,
        "last_used_at": tok.last_used_at,
        "revoked_at": tok.revoked_at,
    }


@router.get("/me/tokens")
def list_my_tokens(request: Request, caller: SelfCaller) -> list[dict[str, Any]]:
    return [_token_out(t) for t in accounts_for(request).list_tokens(_user_id(caller))]


@router.post("/me/tokens", status_code=201)
def issue_my_token(request: Request, body: TokenIn, caller: TokenMinter) -> dict[str, Any]:
    issued = accounts_for(request).issue_token(
        _user_id(caller),
        body.name,
        body.scopes,
        body.ttl_days,
        actor=caller.actor,
        within=caller.scopes,
    )
    return {
        "id": issued.id,
        "name": issued.name,
        "token": issued.token.get_secret_value(),
        "scopes": list(issued.scopes),
        "expires_at": issued.expires_at,
    }


@router.delete("/me/tokens/{token_id}", status_code=204)
def revoke_my_token(request: Request, token_id: str, caller: SelfCaller) -> Response:
    accounts_for(request).revoke_token(_user_id(caller), token_id, actor=caller.actor)
    return Response(status_code=204)


# -- user administration --------------------------------------------------------------------
class UserIn(StrictBody):
    username: StrictStr = Field(min_length=1, max_length=320)
    roles: list[StrictStr] = Field(min_length=1, max_length=4)
    password: StrictStr | None = Field(default=None, max_length=1024)
    person_email: StrictStr | None = Field(default=None, max_length=320)


class UserPatch(StrictBody):
    roles: list[StrictStr] | None = Field(default=None, min_length=1, max_length=4)
    disabled: StrictBool | None = None
    reason: StrictStr = Field(default="", max_length=2000)  # why (disable/enable), audited


def _user_out(user: ConsoleUser) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "roles": user.roles,
        "person_id": user.person_id,
        "mfa_enrolled": user.totp_confirmed,
        "sso": user.sso_subject is not None,
        "local_password": user.password_hash is not None,
        "failed_attempts": user.failed_attempts,
        "locked_until": user.locked_until,
        "disabled_at": user.disabled_at,
        "created_at": user.created_at,
    }


@router.get("/users")
def list_users(request: Request, caller: IdentityAdmin) -> list[dict[str, Any]]:
    return [_user_out(u) for u in accounts_for(request).list_users()]


@router.post("/users", status_code=201)
def create_user(request: Request, body: UserIn, caller: IdentityAdmin) -> dict[str, Any]:
    user = accounts_for(request).create_user(
        body.username,
        roles=body.roles,
        password=body.password,
        person_email=body.person_email,
        actor=caller.actor,
    )
    return _user_out(user)


@router.patch("/users/{ref}")
def update_user(
    request: Request, ref: str, body: UserPatch, caller: IdentityAdmin
) -> dict[str, Any]:
    accounts = accounts_for(request)
    user = accounts.get_user(ref)
    if body.roles is not None:
        user = accounts.set_roles(user.id, body.roles, actor=caller.actor)
    if body.disabled is not None:
        if body.disabled and user.id == caller.id:
            raise ValidationError("you cannot disable yourself")
        user = accounts.set_disabled(user.id, body.disabled, actor=caller.actor, reason=body.reason)
    return _user_out(user)


@router.post("/users/{ref}/unlock", status_code=204)
def unlock_user(request: Request, ref: str, caller: IdentityAdmin) -> Response:
    accounts = accounts_for(request)
    accounts.unlock(accounts.get_user(ref).id, actor=caller.actor)
    return Response(status_code=204)


@router.post("/users/{ref}/mfa/reset", status_code=204)
def reset_user_mfa(request: Request, ref: str, caller: IdentityAdmin) -> Response:
    accounts = accounts_for(request)
    accounts.reset_mfa(accounts.get_user(ref).id, actor=caller.actor)
    return Response(status_code=204)


# -- lifecycle ------------------------------------------------------------------------------
def _person(s: Any, ref: str) -> Person:
    person = s.scalar(select(Person).where(or_(Person.id == ref, Person.email == ref.lower())))
    if person is None:
        raise NotFoundError(f"no person {ref!r}")
    found: Person = person
    return found


def _may_disable_admins(caller: Principal) -> bool:
    """Administrators are disabled by a caller holding identity:admin itself — a session of
    an administrator, or a token minted with that scope — never by what the caller's owner
    could do: an admin's token limited to identity:lifecycle deprovisions people only."""
    return caller.has_scopes((IDENTITY_ADMIN,))


class ReasonIn(StrictBody):
    reason: StrictStr = Field(default="", max_length=2000)


@router.post("/people/{ref}/deactivate")
def deactivate_person(
    request: Request, ref: str, caller: LifecycleCaller, body: ReasonIn | None = None
) -> dict[str, Any]:
    """Deprovision a person: findings for their integrations, tokens revoked, quarantine.

    Made here, it is an emergency hold: the IdP's SCIM ``active=true`` cannot undo it; only
    ``reactivate`` with a reason lifts it."""
    rt = runtime_of(request)
    with rt.store.session() as s:
        report = lifecycle.deactivate_person(
            s,
            _person(s, ref),
            actor=caller.actor,
            clock=rt.clock,
            quarantine=settings_of(request).quarantine_on_deprovision,
            may_disable_admins=_may_disable_admins(caller),
            hold_reason=body.reason if body else "",
        )
    return {
        "person_id": report.person_id,
        "findings": report.findings,
        "quarantined": report.quarantined,
        "tokens_revoked": report.tokens_revoked,
        "sessions_revoked": report.sessions_revoked,
        "held": True,
    }


@router.post("/people/{ref}/reactivate")
def reactivate_person(
    request: Request, ref: str, caller: LifecycleCaller, body: ReasonIn | None = None
) -> dict[str, Any]:
    """Reactivate a person; one held by an emergency deactivation needs ``reason`` (who lifted
    it is the caller: identity:lifecycle is a person's scope, never a control-plane token's)."""
    rt = runtime_of(request)
    with rt.store.session() as s:
        person = _person(s, ref)
        resolved = lifecycle.reactivate_person(
            s, person, actor=caller.actor, clock=rt.clock, lift_reason=body.reason if body else None
        )
    return {"resolved_findings": resolved}


@router.post("/lifecycle/reconcile")
def reconcile_lifecycle(request: Request, caller: LifecycleCaller) -> dict[str, Any]:
    """Reach the integrations of people deactivated outside identity (inventory, apply)."""
    rt = runtime_of(request)
    with rt.store.session() as s:
        reports = lifecycle.reconcile(
            s,
            actor=caller.actor,
            clock=rt.clock,
            quarantine=settings_of(request).quarantine_on_deprovision,
            may_disable_admins=_may_disable_admins(caller),
        )
        return {
            "people": [r.person_id for r in reports],
            "findings": sum(len(r.findings) for r in reports),
            "quarantined": sum(len(r.quarantined) for r in reports),
        }


class OwnerIn(StrictBody):
    owner: StrictStr = Field(min_length=1, max_length=320, description="person id or email")


@router.put("/integrations/{ref}/owner")
def reassign_owner(
    request: Request, ref: str, body: OwnerIn, caller: LifecycleCaller
) -> dict[str, Any]:
    rt = runtime_of(request)
    with rt.store.session() as s:
        integ_id = lifecycle.integration_id_of(s, ref)
        owner = _person(s, body.owner)
        integ = lifecycle.reassign_owner(s, integ_id, owner.id, actor=caller.actor, clock=rt.clock)
        return {"integration": integ.name, "owner_id": integ.owner_id, "status": integ.status}


@router.get("/findings")
def list_findings(
    request: Request,
    caller: Annotated[Principal, Depends(needs_any(LIFECYCLE, "read"))],
    status: str = "open",
) -> list[dict[str, Any]]:
    if status not in ("open", "resolved", "all"):
        raise ValidationError("status must be open, resolved or all")
    rt = runtime_of(request)
    with rt.store.session() as s:
        query = select(IdentityFinding).order_by(IdentityFinding.created_at)
        if status != "all":
            query = query.where(IdentityFinding.status == status)
        return [
            {
                "id": f.id,
                "kind": f.kind,
                "severity": f.severity,
                "status": f.status,
                "person_id": f.person_id,
                "integration_id": f.integration_id,
                "detail": f.detail,
                "created_at": f.created_at,
                "resolved_at": f.resolved_at,
            }
            for f in s.scalars(query)
        ]


# -- SCIM tokens ----------------------------------------------------------------------------
class ScimTokenIn(StrictBody):
    name: StrictStr = Field(min_length=1, max_length=200)


@router.get("/scim-tokens")
def list_scim_tokens(request: Request, caller: IdentityAdmin) -> list[dict[str, Any]]:
    rt = runtime_of(request)
    return [
        {
            "id": t.id,
            "name": t.name,
            "created_at": t.created_at,
            "last_used_at": t.last_used_at,
            "revoked_at": t.revoked_at,
        }
        for t in ScimTokens(rt.store, rt.clock).list()
    ]


@router.post("/scim-tokens", status_code=201)
def issue_scim_token(request: Request, body: ScimTokenIn, caller: IdentityAdmin) -> dict[str, str]:
    rt = runtime_of(request)
    issued = ScimTokens(rt.store, rt.clock).issue(body.name, actor=caller.actor)
    return {"id": issued.id, "name": issued.name, "token": issued.token.get_secret_value()}


@router.delete("/scim-tokens/{token_id}", status_code=204)
def revoke_scim_token(request: Request, token_id: str, caller: IdentityAdmin) -> Response:
    rt = runtime_of(request)
    ScimTokens(rt.store, rt.clock).revoke(token_id, actor=caller.actor)
    return Response(status_code=204)


# -- access reviews (routes in reviews_api.py) ----------------------------------------------
router.include_router(reviews_router)

__all__ = ["auth_router", "need", "router"]
