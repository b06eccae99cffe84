"""The monitor pipeline of one process: store events idempotently, then analyse only the new.

``Monitor.process`` is what a bus worker (or the embedded in-process path) calls with a batch
of events: storage first, then every registered analyser (Sigma, UEBA, API monitoring) sees
the events that were *new*, so a redelivered batch neither duplicates nor re-alerts. It must
never acknowledge (return) before the events are committed to the store.

The analysers keep windows in memory (correlations, API monitoring, UEBA's cache), so one
``Monitor`` serves a whole process and ``process`` lets one caller in at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from ringfence.core.clock import Clock, SystemClock
from ringfence.core.logging import get_logger
from ringfence.monitor.events import Event, document_body
from ringfence.monitor.storage import EventStore, is_data_error, unstorable
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
        new_ids = set(self._store(storable, now))
        if new_ids and self.analysers:
            seen: set[str] = set()
            fresh = []
            for e in events:
                if e.id in new_ids and e.id not in seen:
                    seen.add(e.id)
                    fresh.append(e)
            for analyser in self.analysers:
                analyser.analyse(fresh)
        return len(new_ids)

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
