"""``/api/v1/estate``: the declarative estate over HTTP — plan, apply, export.

The same engine as ``ringfence plan | apply | export``, for GitOps pipelines that would rather
call the API than ship the data directory to the CI runner. Bodies are the ``ringfence.yaml``
text (``application/yaml``; JSON is YAML too). ``plan`` changes nothing and needs ``read``;
``apply`` needs ``write`` and records the caller as the audit actor. ``apply`` may carry the
plan's ``fingerprint`` (``If-Match``): if the store moved since the plan was reviewed, the
apply is refused with 412 instead of doing something nobody reviewed.

Parsing, planning and applying are CPU and database work: they run in the threadpool, never on
the event loop, so one large or hostile body cannot stall every other request of the process.
They also take memory — parsing a 4 MiB document holds a few hundred MB while it runs — so at
most ``ESTATE_CONCURRENCY`` of them run at once per process (``EstateGate``); a request that
finds them all taken waits up to ``ESTATE_QUEUE_WAIT`` seconds, then gets 503 problem+json
``estate_busy`` with ``Retry-After``. Before review 10 (A3) any number ran at once, each in a
thread of the shared pool: ~40 concurrent 4 MiB plans could take ~13 GB.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from ringfence.api.deps import Principal, current_principal, get_runtime, reject_nul_characters
from ringfence.core.errors import (
    ConflictError,
    PermissionDeniedError,
    RingfenceError,
    UnavailableError,
    ValidationError,
)
from ringfence.inventory.estate import (
    MissingSecrets,
    Plan,
    apply_estate,
    export_estate,
    parse_estate,
    plan_estate,
)
from ringfence.store.models import IntegrationStatus

MAX_BODY = 4 * 1024 * 1024  # a very large estate is ~1 MiB of YAML
ESTATE_CONCURRENCY = 2  # estate bodies parsed / planned / applied at once, per process
ESTATE_QUEUE_WAIT = 5.0  # seconds a request waits for one of them before 503
ESTATE_RETRY_AFTER = 5  # seconds, the 503's Retry-After
_YAML_TYPES = frozenset(
    {"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "application/json"}
)

router = APIRouter(
    prefix="/api/v1/estate",
    tags=["estate"],
    dependencies=[Depends(reject_nul_characters)],
)


# The body is read raw (YAML text, or the same document as JSON), so FastAPI cannot infer it;
# declared here so clients and fuzzers know what to send.
_ESTATE_BODY = {
    "requestBody": {
        "required": True,
        "description": "A ringfence.yaml document (`apiVersion: ringfence/v1`).",
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}


class UnsupportedMediaTypeError(RingfenceError):
    code = "unsupported_media_type"
    status = 415
    title = "Unsupported media type"


class PreconditionFailedError(RingfenceError):
    code = "plan_outdated"
    status = 412
    title = "Precondition failed"


class MissingSecretsRefused(ValidationError):
    """The apply creates or changes references to vault secrets that do not exist: 422, as
    the inventory routes answer such a credential (``unknown_reference``)."""

    code = "missing_secret"
    status = 422
    title = "Missing vault secret"


def _refused_for_missing_secrets(exc: MissingSecrets) -> MissingSecretsRefused:
    problems = exc.problems
    return MissingSecretsRefused(
        f"{problems[0].file} references {len(problems)} vault secret(s) that do not exist "
        f"(first: {problems[0]}); nothing was applied — put them first (`ringfence vault put "
        "NAME`), or apply with ?allow_missing_secrets=true (the routes using them answer 503 "
        "until then)",
        errors=[p.to_dict() for p in problems],
        code=MissingSecretsRefused.code,
    )


def _needs(scope: str) -> Any:
    def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.has_scopes([scope]):
            raise PermissionDeniedError(
                f"this route needs the {scope!r} scope; the caller has {sorted(principal.scopes)}",
                code="insufficient_scope",
            )
        return principal

    dependency.required_scopes = frozenset({scope})  # type: ignore[attr-defined]
    return dependency


Reader = Annotated[Principal, Depends(_needs("read"))]
Writer = Annotated[Principal, Depends(_needs("write"))]


class EstateGate:
    """Bounds how many estate documents this process parses, plans or applies at once (and,
    with its own ``busy``/``code``, how many audit-chain verifications run: ``api/audit.py``).

    ``app.state.estate_gate`` (made on first use with the defaults above). The slot is held
    until the threadpool work returns: ``run_in_threadpool`` waits for its thread even when
    the client goes away, so a disconnect does not free a slot while the parse still runs."""

    def __init__(
        self,
        limit: int = ESTATE_CONCURRENCY,
        wait: float = ESTATE_QUEUE_WAIT,
        *,
        busy: str = "estate documents are being planned or applied already",
        code: str = "estate_busy",
        retry_after: int = ESTATE_RETRY_AFTER,
    ) -> None:
        self.limit = limit
        self.wait = wait
        self.busy, self.code, self.retry_after = busy, code, retry_after
        self._sem: asyncio.Semaphore | None = None  # made in the app's event loop

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.limit)
        try:
            async with asyncio.timeout(self.wait):
                await self._sem.acquire()
        except TimeoutError:
            raise UnavailableError(
                f"{self.limit} {self.busy}: retry after {self.retry_after} s",
                code=self.code,
                retry_after=self.retry_after,
            ) from None
        try:
            yield
        finally:
            self._sem.release()


def _gate(request: Request) -> EstateGate:
    gate = getattr(request.app.state, "estate_gate", None)
    if not isinstance(gate, EstateGate):
        gate = request.app.state.estate_gate = EstateGate()
    return gate


async def _estate_text(request: Request) -> str:
    """The posted document (at most ``MAX_BODY`` bytes: the body guard)."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in _YAML_TYPES:
        raise UnsupportedMediaTypeError(
            f"send the ringfence.yaml text as application/yaml (got {media or 'no content type'!r})"
        )
    body = await request.body()
    if not body.strip():
        raise ValidationError("the request body is empty: send the ringfence.yaml text")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError("the request body is not UTF-8 text") from None


def fingerprint(plan: Plan) -> str:
    """A digest of exactly what the plan would change (stable for the same store and file)."""
    changes = [c.to_dict() for c in plan.changes]
    return hashlib.sha256(orjson.dumps(changes, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def _plan_out(plan: Plan) -> dict[str, Any]:
    return {**plan.to_dict(), "fingerprint": fingerprint(plan)}


def _no_revoke_without_second_person(planned: Plan) -> None:
    """Refuse an apply that would revoke a stored integration (``status: revoked``).

    Revoked is final, so it needs four eyes: ``POST /api/v1/integrations/{ref}/revoke`` opens
    the request a second person approves. Before session 14 one person with ``write`` could
    revoke any integration alone by posting a file that says so. Creating an integration as
    revoked takes nothing away and stays allowed; so does ``ringfence apply`` on the server
    (its operator holds the store and the master key)."""
    revoking = sorted(
        c.name
        for c in planned.changes
        if c.section == "integrations" and c.action == "update"
        for f in c.fields
        if f.field == "status" and f.after == IntegrationStatus.REVOKED.value
    )
    if revoking:
        raise ConflictError(
            f"this file revokes {', '.join(repr(n) for n in revoking)}: revoked is final and "
            "needs a second person (four eyes) — ask for it with POST "
            "/api/v1/integrations/{ref}/revoke, which a second person approves, and apply "
            "the file once it is revoked; nothing was applied",
            code="four_eyes_required",
            integrations=revoking,
        )


@router.post("/plan", openapi_extra=_ESTATE_BODY)
async def plan(request: Request, _p: Reader) -> dict[str, Any]:
    """What applying the posted ringfence.yaml would create, update and delete; changes nothing."""
    text = await _estate_text(request)
    rt = get_runtime(request)

    def dry_run() -> dict[str, Any]:
        estate = parse_estate(text, source="request body")
        with rt.store.session() as session:
            try:
                return _plan_out(plan_estate(session, estate))
            finally:
                session.rollback()

    async with _gate(request).slot():
        return await run_in_threadpool(dry_run)


@router.post("/apply", openapi_extra=_ESTATE_BODY)
async def apply(
    request: Request,
    principal: Writer,
    allow_missing_secrets: Annotated[
        bool,
        Query(
            description="Apply even if the file creates or changes references to vault "
            "secrets that do not exist (the routes using them answer 503 until they are put); "
            "without it such an apply is refused with 422 missing_secret."
        ),
    ] = False,
) -> dict[str, Any]:
    """Reconcile the store with the posted ringfence.yaml in one transaction.

    Send ``If-Match: "<fingerprint>"`` from the reviewed plan to refuse (412) an apply whose
    changes differ from it, e.g. because someone changed the store in between. A file that
    creates or changes a ``vault:NAME`` reference the vault does not hold is refused (422
    ``missing_secret``, each reference located in ``errors``; nothing applied) unless
    ``?allow_missing_secrets=true``, as ``ringfence apply`` without
    ``--allow-missing-secrets``; references the store already holds and the file leaves as
    they are stay ``warnings``."""
    text = await _estate_text(request)
    rt = get_runtime(request)
    expected = request.headers.get("if-match", "").strip().strip('"')

    def matches_review(planned: Plan) -> None:
        # Inside apply's transaction (under its lock on PostgreSQL), before any write.
        _no_revoke_without_second_person(planned)
        if expected and fingerprint(planned) != expected:
            raise PreconditionFailedError(
                "the store changed since that plan: its changes are not the ones reviewed; "
                "plan again",
                fingerprint=fingerprint(planned),
            )

    def parse_and_apply() -> Plan:
        estate = parse_estate(text, source="request body")
        try:
            return apply_estate(
                rt.store,
                estate,
                actor=principal.actor,
                clock=rt.clock,
                check=matches_review,
                allow_missing_secrets=allow_missing_secrets,
            )
        except MissingSecrets as exc:
            raise _refused_for_missing_secrets(exc) from None

    async with _gate(request).slot():
        result = await run_in_threadpool(parse_and_apply)
    return {"applied": True, **_plan_out(result)}


@router.get("/export", response_class=Response)
def export(request: Request, _p: Reader) -> Response:
    """The store as ringfence.yaml (credential references only, never secrets)."""
    text = export_estate(get_runtime(request).store)
    return Response(text, media_type="application/yaml")
