"""Tamper-evident control-plane audit log: a SHA-256 hash chain over every change.

Each record's hash covers its sequence number, content and the previous record's hash, so an
edited, deleted, inserted or reordered record breaks the chain at a point ``verify`` names.
What the chain cannot show from the inside is a cut-off tail or a chain rewritten from some
point on with fresh hashes: *anchors* (sequence number + head hash, written outside the
database: an append-only file on other storage, the logs shipped to the SIEM) catch both.
``before``/``after`` pass through secret redaction first: the audit log never holds a secret.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import structlog
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from ringfence.core.clock import Clock, SystemClock
from ringfence.core.errors import ValidationError
from ringfence.core.ids import new_id
from ringfence.core.logging import redact_mapping
from ringfence.store.db import Store
from ringfence.store.models import AuditRecord

_log = structlog.get_logger("ringfence.audit")
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
    # Begin the transaction first: before its first statement a session has none (None),
    # and a head cached under None would be reused by the next transaction of the session.
    session.connection()
    tx = session.get_transaction()
    cached = session.info.get(_HEAD_KEY)
    if cached is not None and cached[0] is tx:
        last: Any = cached[1:]
    else:
        lock_chain(session)
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


def lock_chain(session: Session) -> None:
    """Take the chain's append lock for the rest of the caller's transaction.

    ``append`` takes it before it reads the head. A writer that takes other locks in the same
    transaction (the vault's) takes this one *first*: every transaction then locks in the same
    order, so two writers can never wait for each other."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # Serialise appenders so two transactions never race for the same head; the lock is
        # held until this transaction ends, which is what makes the head cache safe.
        session.execute(select(_advisory_lock()))
    elif dialect == "sqlite":
        # The same on SQLite: a no-op write takes the database's write lock (pysqlite opens
        # the transaction right before it), so the head read next cannot be stale and a
        # concurrent appender waits (busy_timeout) instead of colliding on `seq`.
        session.execute(text("UPDATE audit_log SET seq = seq WHERE 0"))


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


@dataclass(frozen=True)
class Anchor:
    """A checkpoint of the chain kept outside the database: record ``seq`` had hash ``head``."""

    seq: int
    head: str
    ts: datetime

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "head": self.head, "ts": self.ts.isoformat()}


def current_anchor(store: Store, clock: Clock | None = None) -> Anchor | None:
    """The newest record as an anchor (None while the log is empty)."""
    with store.session() as s:
        last = s.execute(
            select(AuditRecord.seq, AuditRecord.hash).order_by(AuditRecord.seq.desc()).limit(1)
        ).first()
    if last is None:
        return None
    return Anchor(seq=last[0], head=last[1], ts=(clock or SystemClock()).now())


_HEX64 = frozenset("0123456789abcdef")


def parse_anchors(text: str, source: str = "anchors") -> list[Anchor]:
    """Anchors from JSON lines; a bad line is a ``ValidationError`` naming the line."""
    out: list[Anchor] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{source}, line {n}"
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise ValidationError(f"{where}: not a JSON object") from None
        if not isinstance(data, dict):
            raise ValidationError(f"{where}: not a JSON object")
        seq, head, ts = data.get("seq"), data.get("head"), data.get("ts")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise ValidationError(f"{where}: `seq` must be a positive integer")
        if not isinstance(head, str) or len(head) != 64 or not set(head) <= _HEX64:
            raise ValidationError(f"{where}: `head` must be 64 lower-case hex characters")
        try:
            when = datetime.fromisoformat(ts) if isinstance(ts, str) else None
        except ValueError:
            when = None
        if when is None or when.tzinfo is None:
            raise ValidationError(f"{where}: `ts` must be an ISO 8601 time with a zone")
        out.append(Anchor(seq=seq, head=head, ts=when))
    return out


def append_anchor(path: Path, anchor: Anchor) -> None:
    """Append one anchor line (O_APPEND, fsync, file mode 0600 when created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, orjson.dumps(anchor.to_json()) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


class Anchorer:
    """Anchors the chain on a timer (``ringfence serve``): a line per change of the head, in the
    anchor file and in the log (which the organisation ships off the host)."""

    def __init__(self, store: Store, path: Path, clock: Clock | None = None) -> None:
        self._store, self._path, self._clock = store, path, clock
        self._last: tuple[int, str] | None = None
        self._started = False
        #: What the last tick found wrong with the chain (None: nothing), also logged as an
        #: error: the record last anchored is gone (tail cut off) or has another hash.
        self.problem: str | None = None

    def tick(self) -> Anchor | None:
        if not self._started:
            self._started = True
            self._last = self._last_in_file()  # what was anchored before this process
        self._check_last()
        mark = current_anchor(self._store, self._clock)
        if mark is None or (mark.seq, mark.head) == self._last:
            return None
        append_anchor(self._path, mark)
        self._last = (mark.seq, mark.head)
        _log.info("audit_anchor", seq=mark.seq, head=mark.head, file=str(self._path))
        return mark

    def _last_in_file(self) -> tuple[int, str] | None:
        try:
            marks = read_anchors(self._path) if self._path.exists() else []
        except ValidationError as exc:
            _log.warning("audit_anchor_file_unreadable", error=str(exc)[:200])
            return None
        return (marks[-1].seq, marks[-1].head) if marks else None

    def _check_last(self) -> None:
        """The record anchored last must still be there with its hash; if not, the newest
        records were deleted or the chain rewritten since — say so at once (an error event the
        SIEM receives), not only at the next ``audit verify``. Anchoring goes on: the earlier
        anchor lines keep the evidence."""
        if self._last is None:
            return
        seq, head = self._last
        with self._store.session() as s:
            found = s.scalar(select(AuditRecord.hash).where(AuditRecord.seq == seq))
        if found == head:
            self.problem = None
            return
        problem = (
            f"audit record {seq}, anchored before, is gone: the newest records were cut off"
            if found is None
            else f"audit record {seq} has another hash than when it was anchored: the chain "
            "was rewritten"
        )
        if problem != self.problem:
            _log.error("audit_chain_tampered", seq=seq, problem=problem, file=str(self._path))
        self.problem = problem

    def _safe_tick(self) -> None:
        try:
            self.tick()
        except Exception as exc:  # a missed anchor must not stop serving; the next one comes
            _log.warning("audit_anchor_failed", error=str(exc)[:200])

    def run(self, interval: float, stop: threading.Event) -> None:
        """Tick now, then every ``interval`` seconds until ``stop`` is set, then once more."""
        self._safe_tick()
        while not stop.wait(interval):
            self._safe_tick()
        self._safe_tick()


def read_anchors(path: Path) -> list[Anchor]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationError(f"anchor file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"anchor file {path} cannot be read: {exc}") from None
    return parse_anchors(text, str(path))


def verify(store: Store, anchors: Sequence[Anchor] = ()) -> VerifyResult:
    """Walk the chain in sequence order and report every break with the record it is at.

    With ``anchors``: each anchored record must still be there with the anchored hash — a
    missing one means the newest records were cut off, a different hash that the chain was
    rewritten (re-hashed) from that record or an earlier one."""
    problems: list[ChainProblem] = []
    prev = GENESIS
    expected_seq = 1
    count = 0
    wanted: dict[int, list[Anchor]] = {}
    for a in anchors:
        wanted.setdefault(a.seq, []).append(a)
    seen: dict[int, tuple[str, str]] = {}
    with store.session() as s:
        for row in s.scalars(select(AuditRecord).order_by(AuditRecord.seq)).yield_per(1000):
            count += 1
            if row.seq in wanted:
                seen[row.seq] = (row.id, row.hash)
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
    last_seq = expected_seq - 1
    for seq in sorted(wanted):
        for a in wanted[seq]:
            if seq not in seen:
                gone = (
                    f"records {last_seq + 1}..{seq} and any after them are missing (cut off)"
                    if seq > last_seq
                    else f"record {seq} is missing (deleted)"
                )
                problems.append(
                    ChainProblem(seq, None, f"{gone}: the anchor of {a.ts.isoformat()} saw it")
                )
            elif seen[seq][1] != a.head:
                problems.append(
                    ChainProblem(
                        seq,
                        seen[seq][0],
                        f"hash differs from the anchor of {a.ts.isoformat()}: the chain was "
                        "rewritten at or before this record",
                    )
                )
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
