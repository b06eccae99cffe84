"""Late events in UEBA (session 12). A batch redelivered, or handled by another worker, after
a newer batch closed an entity's hour used to be counted nowhere: a burst reported late never
alerted. A late sign-in replaced the newest one and its negative time gap counted as a minute:
a false "impossible travel"."""

from __future__ import annotations

from datetime import timedelta

from ringfence.core.clock import FixedClock
from ringfence.monitor.alerts import AlertStore
from ringfence.monitor.ueba import Ueba
from ringfence.runtime import Runtime
from tests.monitor.test_ueba_apimon import CFG, T0, _baseline, gw, messages, signin


def test_burst_reported_late_alerts_for_its_hour(runtime: Runtime, clock: FixedClock) -> None:
    alerts = AlertStore(runtime.store, clock)
    ueba = Ueba(runtime.store, clock, alerts, CFG)
    i = _baseline(ueba)  # hours 0..71, 10 requests each
    # hour 73 arrives first (another worker's batch): hour 72 is closed with 0 requests
    ueba.analyse([gw(T0 + timedelta(hours=73, minutes=m), i + m) for m in range(10)])
    assert messages(alerts, "ueba:volume_requests") == []
    t = T0 + timedelta(hours=72, minutes=5)
    late = [gw(t + timedelta(seconds=s), i + 100 + s) for s in range(400)]
    ueba.analyse(late)
    (msg,) = messages(alerts, "ueba:volume_requests")
    # alerts when the hour's count crosses the threshold, as a current hour does
    assert msg.startswith("crm-sync made ")
    assert "requests in the hour from 2026-01-04 00:00 UTC (reported late)" in msg
    # more of the same late hour: counted, not alerted twice
    ueba.analyse([gw(t + timedelta(seconds=500 + s), i + 600 + s) for s in range(50)])
    assert len(messages(alerts, "ueba:volume_requests")) == 1
    st = Ueba(runtime.store, clock, alerts, CFG)._state("crm-sync", "hourly")
    assert st["hour"] == int((T0 + timedelta(hours=73)).timestamp() // 3600)
    assert st["requests"] == 10
    assert st["history"]["requests"][-1] == 450.0  # hour 72's slot


def test_late_events_count_in_their_hour(runtime: Runtime, clock: FixedClock) -> None:
    alerts = AlertStore(runtime.store, clock)
    ueba = Ueba(runtime.store, clock, alerts, CFG)
    i = _baseline(ueba, hours=30)
    ueba.analyse([gw(T0 + timedelta(hours=31), i + 1)])  # closes hour 30 (empty) too
    before = list(ueba._state("crm-sync", "hourly")["history"]["requests"])
    ueba.analyse([gw(T0 + timedelta(hours=29, minutes=50 + k), i + 10 + k) for k in range(3)])
    after = ueba._state("crm-sync", "hourly")["history"]["requests"]
    assert after[-2] == before[-2] + 3 and after[:-2] == before[:-2] and after[-1] == before[-1]
    assert messages(alerts, "ueba:volume_requests") == []  # 13 in an hour of 10s: no burst
    # older than the history kept: counted as uncounted, never an error
    ueba.analyse([gw(T0 - timedelta(days=30), i + 50)])
    assert ueba.late_uncounted == 1


def test_late_sign_in_is_no_false_impossible_travel(runtime: Runtime, clock: FixedClock) -> None:
    alerts = AlertStore(runtime.store, clock)
    ueba = Ueba(runtime.store, clock, alerts, CFG)
    ueba.analyse([signin(T0 + timedelta(hours=10), "a", "198.51.100.1", 52.52, 13.405, "Berlin")])
    # New York ten hours earlier, delivered late: 6,400 km in 10 h is a plane, not an alert
    ueba.analyse([signin(T0, "b", "203.0.113.5", 40.71, -74.0, "New York")])
    assert messages(alerts, "ueba:impossible_travel") == []
    # the newest sign-in (Berlin) stays the reference: New York 30 min after it alerts
    ueba.analyse(
        [signin(T0 + timedelta(hours=10, minutes=30), "c", "203.0.113.9", 40.71, -74.0, "NYC")]
    )
    (msg,) = messages(alerts, "ueba:impossible_travel")
    assert "Berlin and NYC 30 min apart" in msg


def test_late_sign_in_close_in_time_still_alerts(runtime: Runtime, clock: FixedClock) -> None:
    alerts = AlertStore(runtime.store, clock)
    ueba = Ueba(runtime.store, clock, alerts, CFG)
    ueba.analyse([signin(T0 + timedelta(minutes=30), "a", "198.51.100.1", 52.52, 13.405, "Berlin")])
    ueba.analyse([signin(T0, "b", "203.0.113.5", 40.71, -74.0, "New York")])  # late, 30 min before
    (msg,) = messages(alerts, "ueba:impossible_travel")
    assert "New York and Berlin 30 min apart" in msg
