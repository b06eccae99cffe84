"""The monitor pipeline of one process: analyse the events not stored yet, then store them.

``Monitor.process`` is what a bus worker (or the embedded in-process path) calls with a batch
of events. The analysers (Sigma, UEBA, API monitoring) see the events of the batch that are
not in the store yet; the batch is stored once they have all finished, and ``process``
returns only then. A stored event is therefore an analysed one: a batch redelivered after
its analysis failed (an alert-store outage, a crash) finds its events unstored and analyses
them again, and a batch redelivered after it was processed (only the ack was lost) finds
them stored and neither duplicates nor re-alerts. It must never acknowledge (return) before
the events are committed to the store.

The analysers keep windows in memory (correlations, API monitoring, UEBA's cache), so one
``Monitor`` serves a whole process and ``process`` lets one caller in at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Protocol

from sqlalchemy import select, text

from ringfence.core.clock import Clock, SystemClock
from ringfence.core.logging import get_logger
from ringfence.monitor.events import Event, document_body
from ringfence.monitor.models import MonitorEvent
from ringfence.monitor.storage import EventStore, is_data_error, partition_name, unstorable
from ringfence.store.db import Store

_log = get_logger(__name__)


class Analyser(Protocol):
    """Consumes newly stored events (detection engines implement this)."""

    def analyse(self, events: Sequence[Event]) -> None: ...


class Monitor:
    def __init__(
        self,
        store: Store,
        clock: Clock | None = None,
        analysers: Sequence[Analyser] = (),
    ) -> None:
        self.events = EventStore(store)
        self.clock = clock or SystemClock()
        self.analysers = list(analysers)
        self._lock = threading.Lock()

    def process(self, events: Sequence[Event]) -> int:
        """Store ``events``; run analysers on the new ones; return how many were new."""
        if not events:
            return 0
        with self._lock:
            return self._process(events)

    def _process(self, events: Sequence[Event]) -> int:
        now = self.clock.now()
        storable = []
        for e in events:
            reason = unstorable(e)
            if reason is None:
                storable.append(e)
            else:
                self._dead_letter(e, reason, now)
        if storable and self.analysers:
            # Analysis before storage (review 10 A1): stored means analysed, so a batch whose
            # analysis failed is analysed again when the bus redelivers it. Storing first lost
            # those alerts: the redelivered events were found stored and skipped.
            unique: dict[str, Event] = {}
            for e in storable:
                unique.setdefault(e.id, e)
            stored = self._stored_ids(list(unique.values()))
            fresh = [e for i, e in unique.items() if i not in stored]
            if fresh:
                for analyser in self.analysers:
                    analyser.analyse(fresh)
        return len(self._store(storable, now))

    def _stored_ids(self, events: list[Event]) -> set[str]:
        """The ids of ``events`` already in the store; in a normal stream none. PostgreSQL:
        one ``id = ANY(...)`` probe of each day partition's primary key (queried by name: on
        the partitioned parent a time range made the planner scan the range and compare every
        row with the whole id list - 25 times the database CPU of storing the batch)."""
        ids = [e.id for e in events]
        found: set[str] = set()
        if self.events.store.dialect == "postgresql":
            by_day: dict[date, list[str]] = {}
            for e in events:
                by_day.setdefault(e.time.astimezone(UTC).date(), []).append(e.id)
            with self.events.store.engine.connect() as conn:
                for day, day_ids in by_day.items():
                    name = partition_name(day)
                    if conn.execute(text("SELECT to_regclass(:n)"), {"n": name}).scalar() is None:
                        continue  # no partition for that day: nothing stored there
                    rows = conn.execute(
                        text(f"SELECT id FROM {name} WHERE id = ANY(:ids)"), {"ids": day_ids}
                    )
                    found.update(r[0] for r in rows)
            return found
        with self.events.store.session() as s:
            for i in range(0, len(ids), 500):
                found.update(
                    s.scalars(select(MonitorEvent.id).where(MonitorEvent.id.in_(ids[i : i + 500])))
                )
        return found

    def _store(self, events: list[Event], now: datetime) -> list[str]:
        """Store ``events``; when the engine refuses something they hold (a data error, not an
        outage), store the halves separately, so one bad event is dead-lettered alone and the
        rest of its batch is kept — a redelivered batch would fail the same way every time."""
        if not events:
            return []
        try:
            return self.events.store_events(events, now)
        except Exception as exc:
            if not is_data_error(exc):
                raise
            if len(events) == 1:
                self._dead_letter(events[0], f"refused by the store: {type(exc).__name__}", now)
                return []
            mid = len(events) // 2
            return self._store(events[:mid], now) + self._store(events[mid:], now)

    def _dead_letter(self, e: Event, reason: str, now: datetime) -> None:
        _log.warning("event dead-lettered", event_id=e.id[:36], source=e.source, reason=reason)
        try:
            payload = (e.body or document_body(e.ocsf, e.raw)).decode()
        except (TypeError, ValueError, RecursionError):
            payload = f"(not serialisable) event {e.id[:36]!r} of {e.source[:40]!r}"
        with self.events.store.session() as s:
            self.events.dead_letter(
                s,
                source=e.source[:40],
                origin="monitor",
                line_no=None,
                reason=reason,
                payload=payload,
                now=now,
            )
