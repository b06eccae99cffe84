"""``/api/v1/estate``: the declarative estate over HTTP — plan, apply, export.

The same engine as ``ringfence plan | apply | export``, for GitOps pipelines that would rather
call the API than ship the data directory to the CI runner. Bodies are the ``ringfence.yaml``
text (``application/yaml``; JSON is YAML too). ``plan`` changes nothing and needs ``read``;
``apply`` needs ``write`` and records the caller as the audit actor. ``apply`` may carry the
plan's ``fingerprint`` (``If-Match``): if the store moved since the plan was reviewed, the
apply is refused with 412 instead of doing something nobody reviewed.

Parsing, planning and applying are CPU and database work: they run in the threadpool, never on
the event loop, so one large or hostile body cannot stall every other request of the process.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from ringfence.api.deps import Principal, current_principal, get_runtime, reject_nul_characters
from ringfence.core.errors import PermissionDeniedError, RingfenceError, ValidationError
from ringfence.inventory.estate import (
    Estate,
    Plan,
    apply_estate,
    export_estate,
    parse_estate,
    plan_estate,
)

MAX_BODY = 4 * 1024 * 1024  # a very large estate is ~1 MiB of YAML
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


def _needs(scope: str) -> Any:
    def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.has_scopes([scope]):
            raise PermissionDeniedError(
                f"this route needs the {scope!r} scope; the caller has {sorted(principal.scopes)}",
                code="insufficient_scope",
            )
        return principal

    return dependency


Reader = Annotated[Principal, Depends(_needs("read"))]
Writer = Annotated[Principal, Depends(_needs("write"))]


async def _estate(request: Request) -> Estate:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in _YAML_TYPES:
        raise UnsupportedMediaTypeError(
            f"send the ringfence.yaml text as application/yaml (got {media or 'no content type'!r})"
        )
    body = await request.body()
    if not body.strip():
        raise ValidationError("the request body is empty: send the ringfence.yaml text")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError("the request body is not UTF-8 text") from None
    return await run_in_threadpool(parse_estate, text, source="request body")


def fingerprint(plan: Plan) -> str:
    """A digest of exactly what the plan would change (stable for the same store and file)."""
    changes = [c.to_dict() for c in plan.changes]
    return hashlib.sha256(orjson.dumps(changes, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def _plan_out(plan: Plan) -> dict[str, Any]:
    return {**plan.to_dict(), "fingerprint": fingerprint(plan)}


@router.post("/plan", openapi_extra=_ESTATE_BODY)
async def plan(request: Request, _p: Reader) -> dict[str, Any]:
    """What applying the posted ringfence.yaml would create, update and delete; changes nothing."""
    estate = await _estate(request)
    rt = get_runtime(request)

    def dry_run() -> dict[str, Any]:
        with rt.store.session() as session:
            try:
                return _plan_out(plan_estate(session, estate))
            finally:
                session.rollback()

    return await run_in_threadpool(dry_run)


@router.post("/apply", openapi_extra=_ESTATE_BODY)
async def apply(request: Request, principal: Writer) -> dict[str, Any]:
    """Reconcile the store with the posted ringfence.yaml in one transaction.

    Send ``If-Match: "<fingerprint>"`` from the reviewed plan to refuse (412) an apply whose
    changes differ from it, e.g. because someone changed the store in between."""
    estate = await _estate(request)
    rt = get_runtime(request)
    expected = request.headers.get("if-match", "").strip().strip('"')

    def matches_review(planned: Plan) -> None:
        # Inside apply's transaction (under its lock on PostgreSQL), before any write.
        if expected and fingerprint(planned) != expected:
            raise PreconditionFailedError(
                "the store changed since that plan: its changes are not the ones reviewed; "
                "plan again",
                fingerprint=fingerprint(planned),
            )

    result = await run_in_threadpool(
        apply_estate, rt.store, estate, actor=principal.actor, clock=rt.clock, check=matches_review
    )
    return {"applied": True, **_plan_out(result)}


@router.get("/export", response_class=Response)
def export(request: Request, _p: Reader) -> Response:
    """The store as ringfence.yaml (credential references only, never secrets)."""
    text = export_estate(get_runtime(request).store)
    return Response(text, media_type="application/yaml")
