"""Tamper-evident control-plane audit log: a SHA-256 hash chain over every change.

Each record's hash covers its sequence number, content and the previous record's hash, so an
edited, deleted, inserted or reordered record breaks the chain at a point ``verify`` names.
``before``/``after`` pass through secret redaction first: the audit log never holds a secret.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from ringfence.core.clock import Clock, SystemClock
from ringfence.core.ids import new_id
from ringfence.core.logging import redact_mapping
from ringfence.store.db import Store
from ringfence.store.models import AuditRecord

GENESIS = "0" * 64
_HEAD_KEY = "ringfence.audit.head"


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NAIVE_UTC)


def compute_hash(
    *,
    seq: int,
    record_id: str,
    ts: datetime,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    prev_hash: str,
) -> str:
    body = {
        "seq": seq,
        "id": record_id,
        "ts": ts.isoformat(),
        "actor": actor,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "before": before,
        "after": after,
        "prev": prev_hash,
    }
    return hashlib.sha256(_canonical(body)).hexdigest()


def _row_hash(row: AuditRecord) -> str:
    return compute_hash(
        seq=row.seq,
        record_id=row.id,
        ts=row.ts,
        actor=row.actor,
        action=row.action,
        entity_type=row.entity_type,
        entity_id=row.entity_id,
        before=row.before,
        after=row.after,
        prev_hash=row.prev_hash,
    )


def _jsonable(data: dict[str, Any] | None) -> dict[str, Any] | None:
    if data is None:
        return None
    # Round-trip through JSON so what we hash is exactly what the database gives back.
    cleaned = redact_mapping(data)
    loaded: dict[str, Any] = orjson.loads(_canonical(cleaned))
    return loaded


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    clock: Clock | None = None,
) -> AuditRecord:
    """Append one record in the caller's transaction (it commits or rolls back with it).

    The chain head is remembered for the rest of the transaction, so a bulk change (an
    ``apply`` of thousands of entities) reads it once instead of once per record.
    """
    tx = session.get_transaction()
    cached = session.info.get(_HEAD_KEY)
    if cached is not None and cached[0] is tx:
        last: Any = cached[1:]
    else:
        if session.get_bind().dialect.name == "postgresql":
            # Serialise appenders so two transactions never race for the same head; the lock
            # is held until this transaction ends, which is what makes the cache safe.
            session.execute(select(_advisory_lock()))
        last = session.execute(
            select(AuditRecord.seq, AuditRecord.hash).order_by(AuditRecord.seq.desc()).limit(1)
        ).first()
    seq = (last[0] + 1) if last else 1
    prev = last[1] if last else GENESIS
    ts = (clock or SystemClock()).now().replace(microsecond=0)
    row = AuditRecord(
        seq=seq,
        ts=ts,
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=_jsonable(before),
        after=_jsonable(after),
        prev_hash=prev,
        hash="",
    )
    row.id = new_id()
    row.hash = _row_hash(row)
    session.add(row)
    session.info[_HEAD_KEY] = (tx, seq, row.hash)
    return row


def _advisory_lock() -> Any:
    return func.pg_advisory_xact_lock(0x52494E47)  # "RING"


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    record_id: str | None
    problem: str


@dataclass(frozen=True)
class VerifyResult:
    records: int
    head: str
    problems: list[ChainProblem]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(store: Store) -> VerifyResult:
    """Walk the chain in sequence order and report every break with the record it is at."""
    problems: list[ChainProblem] = []
    prev = GENESIS
    expected_seq = 1
    count = 0
    with store.session() as s:
        for row in s.scalars(select(AuditRecord).order_by(AuditRecord.seq)).yield_per(1000):
            count += 1
            if row.seq != expected_seq:
                problems.append(
                    ChainProblem(
                        row.seq,
                        row.id,
                        f"records {expected_seq}..{row.seq - 1} are missing (deleted)"
                        if row.seq > expected_seq
                        else f"sequence number {row.seq} out of order",
                    )
                )
            if row.prev_hash != prev:
                problems.append(
                    ChainProblem(
                        row.seq,
                        row.id,
                        "previous-hash link broken: a record before it was deleted, "
                        "inserted or reordered",
                    )
                )
            if _row_hash(row) != row.hash:
                problems.append(
                    ChainProblem(row.seq, row.id, "content does not match its hash: edited")
                )
            prev = row.hash
            expected_seq = row.seq + 1
    return VerifyResult(records=count, head=prev, problems=problems)


def append_standalone(store: Store, **kwargs: Any) -> AuditRecord:
    """Append in a transaction of its own, retrying if another writer took the head."""
    for attempt in range(5):
        try:
            with store.session() as s:
                return append(s, **kwargs)
        except SAIntegrityError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")
