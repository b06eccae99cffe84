"""Session 11 #1: a batch redelivered after a failure is analysed exactly once.

Before, ``Monitor.process`` analysed a batch (alerts and UEBA baselines committed, each in its
own transaction), then stored it: when the storage (or an analyser after the others) failed,
the bus redelivered the batch, its events were not stored, and it was analysed again — alert
counts +1, UEBA baselines moved twice, correlation windows fed twice. Now the events, the
baselines and the alerts of a batch commit in one transaction and the analysers' memory is put
back when it fails. The oracle of each test is the same stream processed without a failure.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from ringfence.core.clock import FixedClock
from ringfence.monitor.alerts import AlertStore
from ringfence.monitor.apimon import ApiMonitor, ApiMonitorConfig
from ringfence.monitor.detect import SigmaDetector
from ringfence.monitor.events import Event
from ringfence.monitor.models import UebaState
from ringfence.monitor.parsers import parser_for
from ringfence.monitor.service import Monitor
from ringfence.monitor.sigma.engine import RuleSet
from ringfence.monitor.storage import EventStore
from ringfence.monitor.ueba import Ueba, UebaConfig
from ringfence.store.db import Store
from tests.bus.conftest import T0, gateway_events
from tests.services import postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def stores(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[tuple[Store, Store]]:
    """Two empty stores: one for the run with failures, one for the oracle."""
    if request.param == "sqlite":
        out = []
        for name in ("a", "b"):
            s = Store(f"sqlite:///{tmp_path}/{name}.db")
            s.migrate()
            out.append(s)
        yield out[0], out[1]
        for s in out:
            s.dispose()
        return
    with postgres_database() as url_a, postgres_database() as url_b:
        a, b = Store(url_a), Store(url_b)
        a.migrate()
        b.migrate()
        yield a, b
        a.dispose()
        b.dispose()


def _refusals(n: int, start: datetime, tag: str) -> list[Event]:
    """``n`` 401s from one client IP one second apart: the bundled brute-force correlation
    (20 in 1 min) and API monitoring's auth burst (``auth_burst`` in its window)."""
    parse = parser_for("ringfence")
    out: list[Event] = []
    for i in range(n):
        rec = {
            "time": (start + timedelta(seconds=i)).isoformat(),
            "request_id": f"{tag}-{i}",
            "method": "GET",
            "status": 401,
            "decision": "deny",
            "reason": "invalid_token",
            "latency_ms": 1.0,
            "integration": "int-spray",
            "client_ip": "198.51.100.7",
            "path_template": "/v1/items",
            "upstream": "api.example.com",
        }
        out.extend(parse(rec))
    return out


def _batches() -> list[list[Event]]:
    first = gateway_events(60, tag="s11a")
    second = gateway_events(40, tag="s11b") + _refusals(25, T0 + timedelta(minutes=5), "s11r")
    third = _refusals(25, T0 + timedelta(minutes=20), "s11q")
    return [first, second, third]


class FailOnce:
    """An analyser run after the others that fails ``times`` times (an outage)."""

    def __init__(self, times: int = 1) -> None:
        self.times = times

    def analyse(self, events: Sequence[Event]) -> None:
        if self.times:
            self.times -= 1
            raise ConnectionError("alert store unreachable")


class FlakyEvents(EventStore):
    """Event storage that fails ``failures`` times, then works."""

    failures = 0

    def store_events(self, events: Sequence[Event], now: datetime, session: Any = None) -> Any:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("store unreachable")
        return super().store_events(events, now, session=session)


def _monitor(store: Store, *extra: Any) -> Monitor:
    clock = FixedClock(T0 + timedelta(hours=1))
    alerts = AlertStore(store, clock)
    analysers: list[Any] = [
        SigmaDetector(RuleSet.bundled(), alerts),
        Ueba(store, clock, alerts, UebaConfig(warmup_days=0, warmup_events=5)),
        ApiMonitor(alerts, ApiMonitorConfig(auth_burst=20), clock),
        *extra,
    ]
    return Monitor(store, clock, analysers)


def _outcome(store: Store) -> tuple[list[tuple[str, int]], dict[tuple[str, str], Any], int]:
    alerts = sorted((a.dedup_key, a.count) for a in AlertStore(store, FixedClock(T0)).list())
    with store.session() as s:
        ueba = {(r.entity, r.signal): r.state for r in s.scalars(select(UebaState))}
    return alerts, ueba, EventStore(store).count()


def _oracle(store: Store) -> tuple[list[tuple[str, int]], dict[tuple[str, str], Any], int]:
    monitor = _monitor(store)
    for batch in _batches():
        monitor.process(batch)
    return _outcome(store)


def _deliver(monitor: Monitor, batch: list[Event]) -> None:
    """What the bus does: deliver until the handler returns."""
    for _ in range(5):
        try:
            monitor.process(batch)
            return
        except ConnectionError:
            continue
    raise AssertionError("never handled")


def test_batch_whose_storage_failed_after_analysis_is_analysed_once(
    stores: tuple[Store, Store],
) -> None:
    store, reference = stores
    monitor = _monitor(store)
    flaky = FlakyEvents(store)
    monitor.events = flaky
    first, second, third = _batches()
    monitor.process(first)
    flaky.failures = 1
    _deliver(monitor, second)
    monitor.process(third)
    got, want = _outcome(store), _oracle(reference)
    assert any(count > 1 for _, count in want[0])  # the stream raises alerts
    assert got[0] == want[0]
    assert got[1] == want[1]
    assert got[2] == want[2] == 150


def test_batch_whose_analysis_failed_after_baselines_moved_is_analysed_once(
    stores: tuple[Store, Store],
) -> None:
    store, reference = stores
    fail = FailOnce(0)
    monitor = _monitor(store, fail)
    first, second, third = _batches()
    monitor.process(first)
    fail.times = 2  # Sigma, UEBA and API monitoring ran; then the batch failed, twice
    _deliver(monitor, second)
    monitor.process(third)
    got, want = _outcome(store), _oracle(reference)
    assert got[0] == want[0]
    assert got[1] == want[1]
    assert got[2] == want[2]


def test_ueba_profile_counts_each_event_once_after_a_failed_commit(
    stores: tuple[Store, Store],
) -> None:
    store, _ = stores
    fail = FailOnce(1)
    monitor = _monitor(store, fail)
    events = gateway_events(26, tag="s11u")
    _deliver(monitor, events)
    with store.session() as s:
        row = s.get(UebaState, {"entity": "int-0", "signal": "profile"})
        assert row is not None
        assert row.state["events"] == 2  # int-0 sent events 0 and 13


def test_concurrent_delivery_of_one_batch_to_two_workers_alerts_once() -> None:
    """Two workers hold the same batch (redelivered to a second worker while the first still
    commits). PostgreSQL: the second's insert waits for the first's commit, then finds every
    event stored and analyses nothing. Before, both analysed it: alert counts doubled."""
    with postgres_database() as url:
        store = Store(url)
        store.migrate()
        try:
            _two_workers(store)
        finally:
            store.dispose()


def _two_workers(store: Store) -> None:
    events = _refusals(25, T0, "s11c")
    waiting = threading.Event()

    class WaitForRival:
        """Holds worker A's transaction open until worker B waits on it (or 10 s)."""

        def __init__(self) -> None:
            self.first = True

        def analyse(self, batch: Sequence[Event]) -> None:
            if not self.first:
                return
            self.first = False
            waiting.set()
            deadline = time.monotonic() + 10
            with store.engine.connect() as conn:
                while time.monotonic() < deadline:
                    n = conn.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                            "current_database() AND wait_event_type = 'Lock'"
                        )
                    ).scalar()
                    if n:
                        return
                    time.sleep(0.02)

    a = _monitor(store, WaitForRival())
    b = _monitor(store)
    results: dict[str, int] = {}
    ta = threading.Thread(target=lambda: results.__setitem__("a", a.process(events)))
    ta.start()
    assert waiting.wait(10)
    results["b"] = b.process(events)
    ta.join(10)
    assert results == {"a": 25, "b": 0}
    alerts, _, stored = _outcome(store)
    assert stored == 25
    # the old code counted the batch's findings twice onto the same alerts
    with postgres_database() as url:
        ref = Store(url)
        ref.migrate()
        try:
            _monitor(ref).process(events)
            assert alerts == _outcome(ref)[0]
        finally:
            ref.dispose()


def test_two_workers_sharing_baselines_count_every_event(stores: tuple[Store, Store]) -> None:
    """Two workers alternate batches of the same entities. Before, each wrote its cached copy
    of a baseline over the other's (last writer wins): worker A's third batch put back the
    counts it had cached after its first, losing worker B's batch. Now A's write finds the
    baselines at another version, its transaction is run again with the stored ones."""
    store, reference = stores
    a, b = _monitor(store), _monitor(store)
    batches = [gateway_events(26, tag=f"s11w{i}") for i in range(3)]
    a.process(batches[0])
    b.process(batches[1])
    a.process(batches[2])
    assert a.stale_retries == 1
    with store.session() as s:
        row = s.get(UebaState, {"entity": "int-0", "signal": "profile"})
        assert row is not None and row.state["events"] == 6  # 2 per batch
    oracle = _monitor(reference)
    for batch in batches:
        oracle.process(batch)
    assert _outcome(store) == _outcome(reference)
