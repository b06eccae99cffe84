"""Session 11 review: two overlapping outbox deliveries send each alert once (PostgreSQL).

Before, ``deliver_due`` read the due items without locking them: a second ``ringfence monitor
deliver`` started while the first was still sending (a slow SIEM) read the same items and sent
every one of them again. Now the first run's items are locked (``FOR UPDATE SKIP LOCKED``) and
the second skips them.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

from ringfence.core.clock import FixedClock
from ringfence.monitor.alerts import AlertStore, Finding
from ringfence.monitor.sinks import deliver_due
from ringfence.store.db import Store
from tests.bus.conftest import T0
from tests.services import postgres_database


class SlowSink:
    """Records each send; the first send waits until ``release`` is set."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()
        self.first_started = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    def send(self, finding: dict[str, Any]) -> None:
        with self._lock:
            first = not self.first_started.is_set()
            self.first_started.set()
        if first:
            self.release.wait(10)
        with self._lock:
            self.sent[str(finding["finding_info"]["uid"])] += 1


def _raise_alerts(store: Store, n: int) -> None:
    alerts = AlertStore(store, FixedClock(T0), sinks=["siem"])
    alerts.raise_findings(
        [
            Finding(f"r{i}", "t", "high", "rule", f"e{i}", "s", T0 + timedelta(seconds=i))
            for i in range(n)
        ]
    )


def test_overlapping_deliveries_send_each_alert_once() -> None:
    with postgres_database() as url:
        store = Store(url)
        store.migrate()
        try:
            _raise_alerts(store, 6)
            sink = SlowSink()
            clock = FixedClock(T0 + timedelta(minutes=1))
            first = threading.Thread(target=deliver_due, args=(store, {"siem": sink}, clock))
            first.start()
            assert sink.first_started.wait(10)
            second = deliver_due(store, {"siem": sink}, clock)  # while the first still sends
            sink.release.set()
            first.join(10)
            assert second.delivered == 0
            assert len(sink.sent) == 6 and set(sink.sent.values()) == {1}
            assert deliver_due(store, {"siem": sink}, clock).delivered == 0  # all marked
        finally:
            store.dispose()


def test_sqlite_delivery_is_unchanged(sqlite_store: Store) -> None:
    _raise_alerts(sqlite_store, 3)
    sink = SlowSink()
    sink.release.set()
    report = deliver_due(sqlite_store, {"siem": sink}, FixedClock(T0 + timedelta(minutes=1)))
    assert report.delivered == 3 and set(sink.sent.values()) == {1}
