"""Review 10 A1: a batch whose analysis failed is analysed when it is delivered again.

Before, ``Monitor.process`` stored the batch, then ran the analysers: when one failed (an
alert-store outage between the commit and ``raise_findings``) the bus redelivered the batch,
its events were found stored (de-duplicated) and nothing was analysed — the alerts were lost.
A normal redelivery (the batch was analysed, only the ack was lost) must still analyse
nothing, so it raises no alert twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from ringfence.core.clock import FixedClock
from ringfence.monitor.alerts import AlertStore, Finding
from ringfence.monitor.events import Event
from ringfence.monitor.models import Alert
from ringfence.monitor.service import Monitor
from ringfence.store.db import Store
from tests.bus.conftest import T0, gateway_events
from tests.services import postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[Store]:
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path}/a1.db")
        s.migrate()
        yield s
        s.dispose()
        return
    with postgres_database() as url:
        s = Store(url)
        s.migrate()
        yield s
        s.dispose()


class FlakyAlerts(AlertStore):
    """An alert store that is unreachable for its first ``outages`` calls."""

    outages = 1

    def raise_findings(self, findings: Sequence[Finding]) -> list[Alert]:
        if self.outages:
            self.outages -= 1
            raise ConnectionError("alert store unreachable")
        return super().raise_findings(findings)


class CountingDetector:
    """One finding per 403 in the batch (same rule and entity: one de-duplicated alert)."""

    def __init__(self, alerts: AlertStore) -> None:
        self.alerts = alerts
        self.seen: list[str] = []

    def analyse(self, events: Sequence[Event]) -> None:
        self.seen.extend(e.id for e in events)
        findings = [
            Finding(
                rule_key="test.forbidden",
                title="forbidden",
                severity="high",
                kind="rule",
                entity="int-x",
                sentence="a 403",
                time=e.time,
                events=[e],
            )
            for e in events
            if e.status_id == 2
        ]
        if findings:
            self.alerts.raise_findings(findings)


def _alerts(store: Store) -> list[tuple[str, int]]:
    return [(a.dedup_key, a.count) for a in AlertStore(store, FixedClock(T0)).list()]


def test_batch_analysis_failed_after_storage_is_analysed_on_redelivery(store: Store) -> None:
    alerts = FlakyAlerts(store, FixedClock(T0))
    detector = CountingDetector(alerts)
    monitor = Monitor(store, FixedClock(T0), [detector])
    events = gateway_events(50, tag="a1")
    forbidden = sum(1 for e in events if e.status_id == 2)
    assert forbidden
    with pytest.raises(ConnectionError):
        monitor.process(events)
    assert _alerts(store) == []
    # the bus redelivers the unacknowledged batch
    monitor.process(events)
    assert _alerts(store) == [("test.forbidden|int-x", forbidden)]
    assert monitor.events.count() == 50


def test_normal_redelivery_is_not_analysed_again(store: Store) -> None:
    alerts = AlertStore(store, FixedClock(T0))
    detector = CountingDetector(alerts)
    monitor = Monitor(store, FixedClock(T0), [detector])
    events = gateway_events(50, tag="a1n")
    assert monitor.process(events) == 50
    assert monitor.process(events) == 0  # the ack was lost: delivered again
    assert len(detector.seen) == 50
    forbidden = sum(1 for e in events if e.status_id == 2)
    assert _alerts(store) == [("test.forbidden|int-x", forbidden)]


def test_partly_stored_batch_analyses_only_what_was_not_stored(store: Store) -> None:
    detector = CountingDetector(AlertStore(store, FixedClock(T0)))
    monitor = Monitor(store, FixedClock(T0), [detector])
    events = gateway_events(40, tag="a1p")
    monitor.process(events[:25])
    assert monitor.process(events) == 15
    assert sorted(detector.seen) == sorted(e.id for e in events)


def test_a_failing_analyser_leaves_the_batch_unstored(store: Store) -> None:
    """An analyser that fails on every event (not an outage): nothing is stored unanalysed;
    since session 11 each event is dead-lettered with the reason (isolated by halving the
    batch), where before the whole batch failed and was redelivered for ever."""

    class Broken:
        def analyse(self, events: Sequence[Event]) -> None:
            raise RuntimeError("boom")

    monitor = Monitor(store, FixedClock(T0), [Broken()])
    assert monitor.process(gateway_events(5, tag="a1b")) == 0
    assert monitor.events.count() == 0
    letters = monitor.events.dead_letters()
    assert len(letters) == 5
    assert all(d.reason.startswith("analysis failed: RuntimeError: boom") for d in letters)
    ok = Monitor(store, FixedClock(T0), [])
    assert ok.process(gateway_events(5, tag="a1b")) == 5
