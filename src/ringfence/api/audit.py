"""``/api/v1/audit``: read the control-plane audit chain (paginated) and verify it.

Read-only: nothing here can write, edit or delete an audit record. Records hold no secrets
(``before``/``after`` were redacted on append), so they are returned as stored.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from ringfence.api.deps import get_runtime, reject_nul_characters, require_scopes
from ringfence.api.estate import EstateGate
from ringfence.api.schemas import (
    AuditRecordOut,
    AuditVerifyOut,
    ChainProblemOut,
    PageOut,
    UncheckedRecordsOut,
)
from ringfence.identity.roles import AUDIT_READ
from ringfence.store import audit as chain
from ringfence.store.models import AuditRecord

# ``audit:read`` on top of ``read``: the log names who signed in, enrolled or reset MFA, was
# locked out, minted which token — ``/identity/users`` (the same facts) needs identity:admin.
# Every role that reads holds it; a personal token minted with ``read`` alone does not.
router = APIRouter(
    prefix="/api/v1/audit",
    tags=["audit"],
    dependencies=[Depends(require_scopes(AUDIT_READ)), Depends(reject_nul_characters)],
)


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(50, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=100_000_000)
    order: Literal["asc", "desc"] = Field("desc", description="By sequence number.")
    entity_type: str | None = Field(None, max_length=80)
    entity_id: str | None = Field(None, max_length=200)
    actor: str | None = Field(None, max_length=200)
    action: str | None = Field(None, max_length=80)


@router.get("")
def list_audit(
    request: Request, response: Response, q: Annotated[AuditQuery, Query()]
) -> PageOut[AuditRecordOut]:
    conds = [
        getattr(AuditRecord, name) == value
        for name in ("entity_type", "entity_id", "actor", "action")
        if (value := getattr(q, name)) is not None
    ]
    seq = AuditRecord.seq.asc() if q.order == "asc" else AuditRecord.seq.desc()
    with get_runtime(request).store.session() as s:
        total = s.scalar(select(func.count()).select_from(AuditRecord).where(*conds)) or 0
        rows = s.scalars(
            select(AuditRecord).where(*conds).order_by(seq).limit(q.limit).offset(q.offset)
        )
        items = [AuditRecordOut.model_validate(r) for r in rows]
    nxt = None
    if q.offset + q.limit < total:
        nxt = str(request.url.include_query_params(offset=q.offset + q.limit, limit=q.limit))
        response.headers["Link"] = f'<{nxt}>; rel="next"'
    response.headers["X-Total-Count"] = str(total)
    return PageOut[AuditRecordOut](
        items=items, total=total, limit=q.limit, offset=q.offset, next=nxt
    )


# Verifying reads and hashes the whole chain (~60 µs a record here: a minute for a million),
# in a worker thread. Any ``read`` caller may ask, so at most one runs per process; another
# waits a few seconds for it, then gets 503 ``audit_verify_busy`` with Retry-After.
VERIFY_CONCURRENCY = 1
VERIFY_QUEUE_WAIT = 5.0
VERIFY_RETRY_AFTER = 30


def _verify_gate(request: Request) -> EstateGate:
    gate = getattr(request.app.state, "audit_verify_gate", None)
    if not isinstance(gate, EstateGate):
        gate = request.app.state.audit_verify_gate = EstateGate(
            VERIFY_CONCURRENCY,
            VERIFY_QUEUE_WAIT,
            busy="audit chain verification(s) running already",
            code="audit_verify_busy",
            retry_after=VERIFY_RETRY_AFTER,
        )
    return gate


@router.get("/verify")
async def verify_audit(request: Request) -> AuditVerifyOut:
    """Recheck the keyed (HMAC) chain; ``ok: false`` lists each broken record and why,
    ``complete: false`` says records linked with a master key this server does not hold were
    not checked (``unchecked``), as ``ringfence audit verify`` does (exit 3).

    One verification at a time per process (503 ``audit_verify_busy`` otherwise)."""
    store = get_runtime(request).store
    async with _verify_gate(request).slot():
        result = await run_in_threadpool(chain.verify, store)
    return AuditVerifyOut(
        ok=result.ok,
        complete=result.complete,
        records=result.records,
        head=result.head,
        keyed_from=result.keyed_from,
        unkeyed_records=result.unkeyed,
        keys_checked=list(result.keys_checked),
        unchecked=[
            UncheckedRecordsOut(key_id=u.key_id, first=u.first, last=u.last, count=u.count)
            for u in result.unchecked
        ],
        coverage=result.coverage(),
        problems=[
            ChainProblemOut(seq=p.seq, record_id=p.record_id, problem=p.problem)
            for p in result.problems
        ],
    )
