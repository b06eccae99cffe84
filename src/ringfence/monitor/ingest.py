"""Ingestion: NDJSON (or a vendor's JSON page) → parser → events handed to a publisher.

A line that is not JSON, not an object, too large, not in the vendor's documented shape, or
dated more than 10 years back / 30 days ahead (each day is a partition), nested too deeply to
serialise, or holding a NUL in a stored column (actor, action, source IP ...) is written to the
dead-letter store with its reason and counted; the rest of the input carries
on. Never stops on one bad record and never loses an accepted one: events are handed to the
publisher (bus or direct storage) in batches, and the report says what happened to each line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from ringfence.core.clock import Clock
from ringfence.monitor.events import Event
from ringfence.monitor.parsers import RecordError, parser_for
from ringfence.monitor.storage import EventStore, unstorable
from ringfence.store.db import Store

MAX_RECORD_BYTES = 1024 * 1024
# Accepted event times relative to now: bounds the day partitions a sender can create.
MAX_PAST = timedelta(days=3660)
MAX_FUTURE = timedelta(days=30)
BATCH = 1000
# Vendor page envelopes: Google `items`, Graph `value`, Slack `entries`, ours `events`.
_ENVELOPES = ("items", "value", "entries", "events", "records")

Publisher = Callable[[Sequence[Event]], int]


def supplier_recorder(
    store: Store, actor: str, source: str, clock: Clock
) -> Callable[[Sequence[Event]], None]:
    """A ``before_publish`` hook recording who supplied each batch (actor, source, the batch's
    event-time bounds) in the audit trail, before the events can raise an alert: respond
    refuses an approval by whoever supplied the records behind an incident (four eyes)."""
    from ringfence.store import audit

    def record(batch: Sequence[Event]) -> None:
        audit.append_standalone(
            store,
            actor=actor,
            action="monitor.ingest",
            entity_type="event_source",
            entity_id=source,
            after={
                "events": len(batch),
                "earliest": min(e.time for e in batch).isoformat(),
                "latest": max(e.time for e in batch).isoformat(),
            },
            clock=clock,
        )

    return record


@dataclass
class IngestReport:
    source: str
    records: int = 0
    events: int = 0
    new: int = 0
    dead_lettered: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "records": self.records,
            "events": self.events,
            "new": self.new,
            "duplicates": self.events - self.new if self.new <= self.events else 0,
            "dead_lettered": self.dead_lettered,
            "reasons": dict(self.reasons),
        }


def iter_records(data: bytes) -> Iterator[tuple[int, bytes | Any]]:
    """(line number, raw line or decoded record). A JSON page/array is split into records."""
    stripped = data.lstrip()
    if stripped[:1] in (b"[", b"{"):
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError:
            doc = None
        else:
            if isinstance(doc, list):
                yield from ((i + 1, rec) for i, rec in enumerate(doc))
                return
            if isinstance(doc, dict):
                for key in _ENVELOPES:
                    if isinstance(doc.get(key), list) and len(doc) <= 4:
                        yield from ((i + 1, rec) for i, rec in enumerate(doc[key]))
                        return
                yield 1, doc
                return
    for n, line in enumerate(data.splitlines(), start=1):
        if line.strip():
            yield n, line


def ingest(
    data: bytes,
    *,
    source: str,
    origin: str,
    events_store: EventStore,
    publish: Publisher,
    now: datetime,
    before_publish: Callable[[Sequence[Event]], None] | None = None,
) -> IngestReport:
    """Parse ``data`` and publish its events; dead-letter what cannot be parsed.

    ``before_publish`` sees each batch before it is published (and so before any alert can be
    raised from it): the push endpoint records there who supplied those events."""
    parse = parser_for(source)
    report = IngestReport(source=source)
    batch: list[Event] = []
    dead: list[tuple[int, str, str]] = []

    def flush() -> None:
        if batch:
            if before_publish is not None:
                before_publish(batch)
            report.new += publish(batch)
            batch.clear()

    for line_no, item in _records(data):
        report.records += 1
        try:
            record = _decode(item)
            events = parse(record)
            for e in events:
                if not now - MAX_PAST <= e.time <= now + MAX_FUTURE:
                    raise RecordError(f"timestamp outside the accepted range: {e.time.isoformat()}")
                # one record the store would refuse must not take its batch down with it
                problem = unstorable(e)
                if problem is not None:
                    raise RecordError(problem)
        except RecordError as exc:
            reason = str(exc)
            payload = item.decode("utf-8", "replace") if isinstance(item, bytes) else _dump(item)
            dead.append((line_no, reason, payload))
            report.dead_lettered += 1
            report.reasons[_reason_key(reason)] += 1
            continue
        report.events += len(events)
        batch.extend(events)
        if len(batch) >= BATCH:
            flush()
    flush()
    if dead:
        with events_store.store.session() as s:
            for line_no, reason, payload in dead:
                events_store.dead_letter(
                    s,
                    source=source,
                    origin=origin,
                    line_no=line_no,
                    reason=reason,
                    payload=payload,
                    now=now,
                )
    return report


def _records(data: bytes) -> Iterable[tuple[int, bytes | Any]]:
    return iter_records(data)


def _decode(item: bytes | Any) -> Any:
    if not isinstance(item, bytes):
        return item
    if len(item) > MAX_RECORD_BYTES:
        raise RecordError(f"record larger than {MAX_RECORD_BYTES} bytes")
    try:
        return orjson.loads(item)
    except orjson.JSONDecodeError as exc:
        raise RecordError(f"not JSON: {exc}") from None


def _dump(item: Any) -> str:
    try:
        return orjson.dumps(item).decode()
    except TypeError:
        return repr(item)


def _reason_key(reason: str) -> str:
    """Group reasons for the report: drop the variable detail after a colon."""
    return reason.split(":", 1)[0]
