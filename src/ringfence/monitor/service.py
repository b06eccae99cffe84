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
from typing import Protocol

from ringfence.core.clock import Clock, SystemClock
from ringfence.monitor.events import Event
from ringfence.monitor.storage import EventStore
from ringfence.store.db import Store


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
        new_ids = set(self.events.store_events(events, self.clock.now()))
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
