"""The console: server-rendered HTML over the control plane, for people.

Sign-in with password + TOTP (or the SSO flow at ``/auth/oidc/login``), MFA enrolment with a
QR code, a dashboard, integrations (quarantine / activate), alerts, incidents (approve a
waiting step) and posture findings. No JavaScript at all: every change is a form POST that
carries the session's CSRF token in a hidden field, checked here before anything happens.
Jinja2 escapes every value; pages are served with a strict CSP (no script, no inline style,
no framing), ``no-store`` and a same-origin referrer policy. Permissions are the roles'
scopes, exactly as for the API (an integration owner sees and quarantines only their own
integrations; an admin whose session has not passed MFA reaches only enrolment and sign-out).
"""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import false, func, select
from starlette.concurrency import run_in_threadpool

from ringfence.core.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RingfenceError,
    ValidationError,
)
from ringfence.identity.accounts import SessionInfo, csrf_for
from ringfence.identity.auth import (
    accounts_for,
    clear_session_cookies,
    session_token_of,
    settings_of,
)
from ringfence.identity.roles import MFA_ENROLL, OWN_INTEGRATIONS, SELF, needs_mfa, scopes_of
from ringfence.store.models import Integration, IntegrationStatus

_HERE = Path(__file__).parent
_env = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    auto_reload=False,
)
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: under no-referrer browsers send `Origin: null` on form
    # posts, which the login CSRF check must refuse.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
MAX_FORM = 16 * 1024

router = APIRouter(prefix="/console", include_in_schema=False)


class FormTooLargeError(RingfenceError):
    code = "form_too_large"
    status = 413
    title = "Form too large"


@dataclass(frozen=True)
class Viewer:
    """The signed-in person and what their roles let them do here."""

    token: str
    info: SessionInfo
    scopes: frozenset[str]

    @property
    def csrf(self) -> str:
        return csrf_for(self.token)

    @property
    def actor(self) -> str:
        return f"user:{self.info.username}"

    def can(self, scope: str) -> bool:
        return scope in self.scopes


def _page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _env.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def _redirect(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303, headers=SECURITY_HEADERS)


def _viewer(request: Request) -> Viewer | None:
    token = session_token_of(request)
    if not token:
        return None
    info = accounts_for(request).resolve_session(token)
    if info is None:
        return None
    scopes = scopes_of(info.roles)
    required = settings_of(request).mfa_required_roles
    if (needs_mfa(info.roles, required) or info.enrolled) and not info.mfa_passed:  # as auth.py
        scopes = frozenset({MFA_ENROLL, SELF})
    return Viewer(token, info, scopes)


async def _form(request: Request, viewer: Viewer | None) -> dict[str, str]:
    """The posted form; with a viewer, its CSRF token must match the session's."""
    # Refuse an oversized form before buffering it: by its declared length, else while
    # streaming (a sign-in page must not read an attacker's 40 MiB into memory).
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_FORM):
        raise FormTooLargeError(f"the form is larger than {MAX_FORM} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM:
            raise FormTooLargeError(f"the form is larger than {MAX_FORM} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise ValidationError("expected a form post")
    try:
        # Up to 500 fields (the 16 KiB cap bounds the work): a review may tick many scopes.
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=500)
    except (UnicodeDecodeError, ValueError):
        raise ValidationError("the form is not valid") from None
    form = {k: v[0] for k, v in parsed.items() if v}
    if viewer is not None:
        presented = form.get("csrf_token", "")
        if not presented or not hmac.compare_digest(presented, viewer.csrf):
            raise PermissionDeniedError("the form's CSRF token is missing or wrong", code="csrf")
    return form


Handler = Callable[[Request, Viewer, dict[str, str]], Response]


def _signed_in(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Redirect to sign-in without a session, to MFA enrolment before MFA; render errors.

    A POST's form is read (and its CSRF token checked) here. The handler — database work and
    rendering — runs in the thread pool: on the event loop a slow query, or a SQLite write
    lock held by another request (up to its busy timeout), would stall every other request
    this process serves."""

    async def wrapper(request: Request) -> Response:
        viewer = await run_in_threadpool(_viewer, request)
        if viewer is None:
            return _redirect("/console/login")
        path = request.url.path
        if MFA_ENROLL in viewer.scopes and not path.startswith(("/console/mfa", "/console/logout")):
            return _redirect("/console/mfa")
        try:
            form = await _form(request, viewer) if request.method == "POST" else {}
            return await run_in_threadpool(handler, request, viewer, form)
        except RingfenceError as exc:
            return _page(
                "error.html", status=exc.status, viewer=viewer, title=exc.title, message=exc.message
            )

    wrapper.__name__ = handler.__name__
    return wrapper


# -- sign-in ---------------------------------------------------------------------------------
def _login_page(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
    """The sign-in page; its SSO link only when SSO is configured (else the link led to a
    JSON 404)."""
    sso = settings_of(request).oidc_configured
    return _page("login.html", status=status, viewer=None, sso=sso, **context)


@router.get("/login")
def login_page(request: Request) -> Response:
    if _viewer(request) is not None:
        return _redirect("/console/")
    return _login_page(request, need_otp=False, error=None, username="")


@router.post("/login")
async def login(request: Request) -> Response:
    from ringfence.identity.api import _refuse_cross_site, set_session_cookies

    try:
        _refuse_cross_site(request)
        form = await _form(request, None)
    except RingfenceError as exc:
        return _login_page(
            request,
            status=exc.status,
            need_otp=False,
            error=exc.message,
            username="",
        )
    username = form.get("username", "")[:320]
    accounts = accounts_for(request)
    try:
        outcome = await run_in_threadpool(
            lambda: accounts.login_password(
                username,
                form.get("password", "")[:1024],
                otp=form.get("otp") or None,
                recovery_code=form.get("recovery_code") or None,
                client_ip=request.client.host if request.client else None,
            )
        )
    except AuthenticationError as exc:
        need_otp = exc.code == "mfa_required"
        return _login_page(
            request,
            status=401,
            need_otp=need_otp,
            error=None if need_otp else exc.message,
            username=username,
        )
    except RateLimitedError as exc:
        return _login_page(
            request,
            status=429,
            need_otp=False,
            error=exc.message,
            username=username,
        )
    token = await run_in_threadpool(
        lambda: accounts.sign_in_session(
            outcome.user_id,
            mfa_passed=outcome.mfa_passed,
            method="password",
            replacing=session_token_of(request),
        )
    )
    response = _redirect("/console/mfa" if outcome.must_enroll_mfa else "/console/")
    set_session_cookies(request, response, accounts, token.get_secret_value())
    return response


def _logout(request: Request, viewer: Viewer, form: dict[str, str]) -> Response:
    accounts_for(request).revoke_session(viewer.token)
    response = _redirect("/console/login")
    clear_session_cookies(request, response)
    return response


router.add_api_route("/logout", _signed_in(_logout), methods=["POST"])


# -- MFA enrolment -----------------------------------------------------------------------------
def _mfa_page(request: Request, viewer: Viewer, form: dict[str, str]) -> Response:
    accounts = accounts_for(request)
    user = accounts.get_user(viewer.info.user_id)
    if user.totp_confirmed:
        if viewer.info.mfa_passed:
            return _redirect("/console/")
        # enrolled, but this session (an SSO sign-in) has not passed MFA: ask for the code
        return _page("mfa.html", viewer=viewer, qr=None, secret=None, error=None, step_up=True)
    enrol = accounts.begin_totp(viewer.info.user_id, reuse_pending=True, session_token=viewer.token)
    uri = enrol.provisioning_uri.get_secret_value()
    secret = parse_qs(urlsplit(uri).query).get("secret", [""])[0]
    return _page(
        "mfa.html",
        viewer=viewer,
        qr=enrol.qr_svg_data_uri.get_secret_value(),
        secret=secret,
        error=None,
    )


def _mfa_confirm(request: Request, viewer: Viewer, form: dict[str, str]) -> Response:
    from ringfence.identity.api import set_session_cookies

    accounts = accounts_for(request)
    if accounts.get_user(viewer.info.user_id).totp_confirmed:
        return _mfa_step_up(request, viewer, form)
    try:
        codes = accounts.confirm_totp(
            viewer.info.user_id,
            form.get("code", "").strip(),
            actor=viewer.actor,
            keep_session=viewer.token,
        )
    except ValidationError as exc:
        return _page(
            "mfa.html",
            status=400,
            viewer=viewer,
            qr=None,
            secret=None,
            error=f"{exc.message} — go back and enter the code your app shows now",
        )
    fresh = accounts.rotate_session_after_mfa(viewer.token, viewer.info.user_id)
    response = _page("recovery.html", viewer=None, codes=codes)
    if fresh is not None:
        set_session_cookies(request, response, accounts, fresh.get_secret_value())
    return response


def _mfa_step_up(request: Request, viewer: Viewer, form: dict[str, str]) -> Response:
    """The second factor for a session that has not passed it (an SSO sign-in without MFA)."""
    from ringfence.identity.api import set_session_cookies

    if viewer.info.mfa_passed:
        return _redirect("/console/")
    code, recovery = form.get("code", "").strip(), form.get("recovery_code", "").strip()
    try:
        fresh = accounts_for(request).step_up(
            viewer.token,
            viewer.info.user_id,
            otp=code or None,
            recovery_code=None if code else (recovery or None),
        )
    except (AuthenticationError, RateLimitedError) as exc:
        return _page(
            "mfa.html",
            status=exc.status,
            viewer=viewer,
            qr=None,
            secret=None,
            step_up=True,
            error=exc.message,
        )
    response = _redirect("/console/")
    set_session_cookies(request, response, accounts_for(request), fresh.get_secret_value())
    return response


router.add_api_route("/mfa", _signed_in(_mfa_page), methods=["GET"])
router.add_api_route("/mfa", _signed_in(_mfa_confirm), methods=["POST"])


# -- pages --------------------------------------------------------------------------------------
def _runtime(request: Request) -> Any:
    return request.app.state.runtime


def _need(viewer: Viewer, scope: str) -> None:
    if not viewer.can(scope):
        raise PermissionDeniedError(f"your roles do not include {scope!r}")


def _owned_by_viewer(viewer: Viewer) -> Any:
    """Where-clause: the integrations the viewer's inventory person owns. A user linked to no
    person owns nothing — ``owner_id == None`` would compile to IS NULL and match every
    ownerless integration."""
    if viewer.info.person_id is None:
        return false()
    return Integration.owner_id == viewer.info.person_id


def _dashboard(request: Request, viewer: Viewer, form: dict[str, str]) -> Response:
    from ringfence.monitor.models import Alert
    from ringfence.posture.models import PostureFinding
    from ringfence.respond.models import Incident

    rt = _runtime(request)
    stats: dict[str, Any] = {}
    with rt.store.session() as s:
        q = select(Integration.status, func.count()).group_by(Integration.status)
        if not viewer.can("read"):
            q = q.where(_owned_by_viewer(viewer))
        stats["integrations"] = {str(k.value): n for k, n in s.execute(q)}
        if viewer.can("read"):
            stats["alerts"] = s.scalar(
                select(func.count()).select_from(Alert).where(Alert.status != "closed")
            )
            stats["incidents"] = s.scalar(
                select(func.count())
                .select_from(Incident)
                .where(Incident.status != "closed", Incident.drill.is_(False))
            )
            stats["findings"] = dict(
                s.execute(
                    select(PostureFinding.severity, func.count())
                    .where(PostureFinding.status == "open")
                    .group_by(PostureFinding.severity)
                ).all()
            )
    return _page("dashboard.html", viewer=viewer, stats=stats)


def _integrations(request: Request, viewer: Viewer, form: dict[str, str]) -> Response:
    if not (viewer.can("read") or viewer.can(OWN_INTEGRATIONS)):
        raise PermissionDeniedError("your roles do not include reading integrations")
    rt = _runtime(request)
    with rt.store.session() as s:
        q = select(Integration).order_by(Integration.name)
        if not viewer.can("read"):
            q = q.where(_owned_by_viewer(viewer))
        rows = [
            {
                "id": i.id,
                "name": i.name,
                "kind": i.kind.value,
                "status": i.status.value,
                "scopes": ", ".join(i.scopes),
                "description": i.description,
                "can_quarantine": i.status is IntegrationStatus.ACTIVE
                and (
                    viewer.can("write")
                    or (i.owner_id is not None and i.owner_id == viewer.info.person_id)
                ),
                "can_activate": i.status is IntegrationStatus.QUARANTINED and viewer.can("write"),
            }
            for i in s.scalars(q)
        ]
    return _page("integrations.html", viewer=viewer, rows=rows)


def _status_change(status: IntegrationStatus) -> Handler:
    def handler(request: Request, viewer: Viewer, form: dict[str, str]) -> Response:
        from ringfence.inventory.repository import InventoryRepository

        ref = request.path_params["ref"]
        rt = _runtime(request)
        with rt.store.session() as s:
            integ = s.get(Integration, ref)
            if integ is None:
                raise NotFoundError("no such integration")
            own = integ.owner_id is not None and integ.owner_id == viewer.info.person_id
            allowed = viewer.can("write") or (
                status is IntegrationStatus.QUARANTINED and own and viewer.can(OWN_INTEGRATIONS)
            )
            if not allowed:
                raise PermissionDeniedError(f"you may not {status.value} {integ.name!r}")
            repo = InventoryRepository(s, actor=viewer.actor, clock=rt.clock)
            reason = form.get("reason", "").strip()[:500] or "from the console"
            repo.set_integration_status(integ.id, status, reason=reason)
        return _redirect("/console/integrations")

    handler.__name__ = f"set_{status.value}"
    return handler


def _alerts(request: Request, viewer: Viewer, form: dict[str, str]) -> Response:
    from ringfence.monitor.models import Alert

    _need(viewer, "read")
    with _runtime(request).store.session() as s:
        rows = [
            {
                "title": a.title,
                "rule": a.rule_id,
                "severity": a.severity,
                "status": a.status,
                "count": a.count,
                "first_seen": a.first_seen,
                "entity": a.dedup_key.split("|", 1)[-1],
            }
            for a in s.scalars(select(Alert).order_by(Alert.last_seen.desc()).limit(200))
        ]
    return _page("alerts.html", viewer=viewer, rows=rows)


def _incidents(request: Request, viewer: Viewer, form: dict[str, str]) -> Response:
    from ringfence.respond import Responder

    _need(viewer, "read")
    rt = _runtime(request)
    responder = Responder(rt.store, rt.vault, rt.clock)
    views = [responder.show(i["id"]) for i in responder.incidents()[:50]]
    return _page("incidents.html", viewer=viewer, incidents=views)


def _approve(request: Request, viewer: Viewer, form: dict[str, str]) -> Response:
    from ringfence.respond.wiring import responder_for

    _need(viewer, "write")
    incident = request.path_params["incident"]
    try:
        position = int(request.path_params["position"])
    except ValueError:
        raise ValidationError("step must be a number") from None
    responder = responder_for(_runtime(request))
    with contextlib.suppress(ConflictError):  # approved meanwhile: show the current state
        # The approved steps run now and may call SaaS APIs for a while (in the thread pool,
        # like every console handler).
        responder.approve(incident, position, actor=viewer.actor)
    return _redirect("/console/incidents")


def _findings(request: Request, viewer: Viewer, form: dict[str, str]) -> Response:
    from ringfence.posture.models import PostureFinding

    _need(viewer, "read")
    with _runtime(request).store.session() as s:
        rows = list(
            s.execute(
                select(
                    PostureFinding.check_id,
                    PostureFinding.severity,
                    PostureFinding.resource_id,
                    PostureFinding.message,
                )
                .where(PostureFinding.status == "open")
                .order_by(PostureFinding.check_id)
                .limit(500)
            ).all()
        )
    return _page("findings.html", viewer=viewer, rows=rows)


# -- vendors -------------------------------------------------------------------------------------
def _vendors(request: Request, viewer: Viewer, form: dict[str, str]) -> Response:
    from ringfence.vendors import service

    _need(viewer, "read")
    risks = service.risk(_runtime(request))
    return _page("vendors.html", viewer=viewer, rows=[service.risk_dict(r) for r in risks])


# -- access reviews ----------------------------------------------------------------------------
def _review_scope(viewer: Viewer) -> str | None:
    """Whose items the viewer sees and decides: everyone's (analysts, admins) or, for an
    integration owner, those of the integrations their inventory person owns."""
    from ringfence.identity.roles import REVIEWS_DECIDE, REVIEWS_MANAGE, REVIEWS_READ

    if viewer.can(REVIEWS_MANAGE) or viewer.can(REVIEWS_READ):
        return None
    _need(viewer, REVIEWS_DECIDE)
    if viewer.info.person_id is None:
        raise PermissionDeniedError("your account is not linked to a person in the inventory")
    return viewer.info.person_id


REVIEW_PAGE = 100  # review items per campaign on one console page


@dataclass(frozen=True)
class _ReviewView:
    pending: bool  # undecided items only
    page: int  # 1-based

    def query(self, page: int | None = None) -> str:
        return f"?show={'pending' if self.pending else 'all'}&page={page or self.page}"


def _review_view(show: str | None, page: str | None) -> _ReviewView:
    """The list's filter and page from the query string (or a decision form's hidden fields);
    anything else is a clear 400, not a traceback."""
    if show not in (None, "", "all", "pending"):
        raise ValidationError("show must be 'all' or 'pending'")
    if page in (None, ""):
        number = 1
    elif page.isdigit() and len(page) <= 6 and int(page) >= 1:
        number = int(page)
    else:
        raise ValidationError("page must be a whole number from 1")
    return _ReviewView(pending=show == "pending", page=number)


def _reviews(request: Request, viewer: Viewer, form: dict[str, str]) -> Response:
    from ringfence.identity.reviews import AccessReviews
    from ringfence.identity.roles import REVIEWS_DECIDE, REVIEWS_MANAGE

    only = _review_scope(viewer)
    rt = _runtime(request)
    reviews = AccessReviews(rt.store, rt.clock)
    mine: set[str] = set()
    if viewer.info.person_id is not None:
        with rt.store.session() as s:
            mine = set(
                s.scalars(
                    select(Integration.id).where(Integration.owner_id == viewer.info.person_id)
                )
            )
    decide_any = viewer.can(REVIEWS_MANAGE)
    view = _review_view(request.query_params.get("show"), request.query_params.get("page"))
    campaigns = []
    for c in reviews.campaigns():
        if c.status != "open":
            continue
        decided, total = reviews.progress(c.id, reviewer_id=only)
        rows = reviews.items(
            c.id,
            reviewer_id=only,
            pending_only=view.pending,
            limit=REVIEW_PAGE + 1,  # one more tells whether a next page exists
            offset=(view.page - 1) * REVIEW_PAGE,
        )
        more = len(rows) > REVIEW_PAGE
        rows = rows[:REVIEW_PAGE]
        for row in rows:
            # The form only where a decision would be accepted (see _decide).
            row["decidable"] = viewer.can(REVIEWS_DECIDE) and (
                decide_any or row["integration_id"] in mine
            )
            # Segregation of duties: on one's own integration only a revoke is offered
            # (keeping it is another reviewer's decision; AccessReviews.decide enforces it).
            row["own"] = row["integration_id"] in mine
        stalled = reviews.without_independent_reviewer(c.id) if only is None else []
        campaigns.append(
            {
                "campaign": c,
                "rows": rows,
                "decided": decided,
                "total": total,
                "more": more,
                "stalled": stalled,
            }
        )
    return _page("reviews.html", viewer=viewer, campaigns=campaigns, view=view)


def _decide(request: Request, viewer: Viewer, form: dict[str, str]) -> Response:
    from ringfence.identity.reviews import AccessReviews
    from ringfence.identity.roles import REVIEWS_DECIDE, REVIEWS_MANAGE

    _need(viewer, REVIEWS_DECIDE)
    # Deciding any item takes reviews:manage; seeing them all (reviews:read) does not.
    only = None if viewer.can(REVIEWS_MANAGE) else viewer.info.person_id
    if only is None and not viewer.can(REVIEWS_MANAGE):
        raise PermissionDeniedError("your account is not linked to a person in the inventory")
    kept = sorted(k.removeprefix("keep:") for k in form if k.startswith("keep:"))
    decision = form.get("decision", "")
    AccessReviews(_runtime(request).store, _runtime(request).clock).decide(
        request.path_params["campaign"],
        request.path_params["item"],
        decision=decision,
        comment=form.get("comment", ""),
        kept_scopes=kept if decision == "reduce" else None,
        actor=viewer.actor,
        only_reviewer=only,
        decider_id=viewer.info.user_id,
    )
    # Back to the list the reviewer was working through (fields checked, never a free URL).
    return _redirect("/console/reviews" + _review_view(form.get("show"), form.get("page")).query())


router.add_api_route("/", _signed_in(_dashboard), methods=["GET"])
router.add_api_route("/integrations", _signed_in(_integrations), methods=["GET"])
router.add_api_route(
    "/integrations/{ref}/quarantine",
    _signed_in(_status_change(IntegrationStatus.QUARANTINED)),
    methods=["POST"],
)
router.add_api_route(
    "/integrations/{ref}/activate",
    _signed_in(_status_change(IntegrationStatus.ACTIVE)),
    methods=["POST"],
)
router.add_api_route("/alerts", _signed_in(_alerts), methods=["GET"])
router.add_api_route("/incidents", _signed_in(_incidents), methods=["GET"])
router.add_api_route(
    "/incidents/{incident}/steps/{position}/approve", _signed_in(_approve), methods=["POST"]
)
router.add_api_route("/findings", _signed_in(_findings), methods=["GET"])
router.add_api_route("/vendors", _signed_in(_vendors), methods=["GET"])
router.add_api_route("/reviews", _signed_in(_reviews), methods=["GET"])
router.add_api_route(
    "/reviews/{campaign}/items/{item}/decision", _signed_in(_decide), methods=["POST"]
)


@router.get("/static/app.css")
def stylesheet() -> Response:
    css = (_HERE / "static" / "app.css").read_text(encoding="utf-8")
    return Response(
        css,
        media_type="text/css",
        headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
