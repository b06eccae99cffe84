"""Review 9: one record dated in the future no longer switches volume detection off for an
entity (UEBA) or a route (API monitoring)."""

from __future__ import annotations

from datetime import datetime, timedelta

from ringfence.core.clock import FixedClock
from ringfence.monitor.alerts import AlertStore
from ringfence.monitor.apimon import ApiMonitor, ApiMonitorConfig
from ringfence.monitor.ueba import Ueba, UebaConfig
from ringfence.runtime import Runtime
from tests.monitor.test_ueba_apimon import gw, messages

CFG = UebaConfig(warmup_days=2, warmup_events=20, min_history_hours=24)


def _set(clock: FixedClock, when: datetime) -> None:
    clock.advance((when - clock.now()).total_seconds())


def _baseline_then_spike(runtime: Runtime, clock: FixedClock, poison: bool) -> AlertStore:
    alerts = AlertStore(runtime.store, clock)
    ueba = Ueba(runtime.store, clock, alerts, CFG)
    start = clock.now()
    i = 0
    for h in range(72):  # three days of 10 requests an hour, analysed as they happen
        t = start + timedelta(hours=h)
        _set(clock, t + timedelta(minutes=30))
        ueba.analyse([gw(t + timedelta(minutes=m), i + m) for m in range(10)])
        i += 10
        if poison and h == 60:  # one record dated 29 days ahead
            ueba.analyse([gw(clock.now() + timedelta(days=29), 10**6)])
    t = start + timedelta(hours=72, minutes=1)
    _set(clock, t + timedelta(minutes=10))
    ueba.analyse([gw(t + timedelta(seconds=s), i + s) for s in range(400)])
    assert messages(alerts, "ueba:volume_requests"), "the spike went unnoticed"
    assert ueba.future_events == (1 if poison else 0)
    return alerts


def test_a_future_dated_record_does_not_hide_a_volume_spike(
    runtime: Runtime, clock: FixedClock
) -> None:
    alerts = _baseline_then_spike(runtime, clock, poison=True)
    (msg,) = messages(alerts, "ueba:volume_requests")
    assert msg.startswith("crm-sync made ") and "baseline median 10" in msg


def test_api_monitoring_ignores_a_future_dated_request(runtime: Runtime, clock: FixedClock) -> None:
    alerts = AlertStore(runtime.store, clock)
    mon = ApiMonitor(alerts, ApiMonitorConfig(auth_burst=15))
    now = clock.now()
    mon.analyse([gw(now + timedelta(days=29), 0, status=401, route="r")])
    mon.analyse([gw(now + timedelta(seconds=s), 1 + s, status=401, route="r") for s in range(20)])
    assert len(messages(alerts, "apimon:auth_burst")) == 1
    assert mon.future_events == 1
