from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ringfence.core.clock import FixedClock
from ringfence.monitor.alerts import AlertStore
from ringfence.monitor.apimon import ApiMonitor, ApiMonitorConfig
from ringfence.monitor.events import Event
from ringfence.monitor.models import UebaState
from ringfence.monitor.parsers import parser_for
from ringfence.monitor.ueba import Ueba, UebaConfig, haversine_km, robust_z
from ringfence.runtime import Runtime
from ringfence.store.db import Store
from tests.monitor import records as R

T0 = datetime(2026, 1, 1, tzinfo=UTC)
# These timelines run days ahead of the fixed test clock: no future gate here (it has its own
# tests in test_review9_future_events.py).
NO_FUTURE_GATE = 10 * 365 * 86400.0
CFG = UebaConfig(
    warmup_days=2, warmup_events=20, min_history_hours=24, max_future_skew=NO_FUTURE_GATE
)


def gw(t: datetime, i: int, **over: object) -> Event:
    rec = R.gateway(request_id=f"r{i}-{t.timestamp()}", time=t.isoformat(), **over)
    return parser_for("ringfence")(rec)[0]


def signin(t: datetime, uuid: str, ip: str, lat: float, lon: float, city: str) -> Event:
    rec = R.okta(uuid=uuid, published=t.isoformat())
    rec["client"]["ipAddress"] = ip
    rec["client"]["geographicalContext"].update(
        {"city": city, "geolocation": {"lat": lat, "lon": lon}}
    )
    return parser_for("okta")(rec)[0]


def messages(alerts: AlertStore, prefix: str) -> list[str]:
    return [a.finding["message"] for a in alerts.list(limit=1000) if a.rule_id.startswith(prefix)]


def test_robust_z_and_haversine() -> None:
    z, med, mad = robust_z(50, [10, 11, 9, 10, 12, 10, 8])
    assert med == 10 and mad == 1 and round(z, 1) == 27.0
    z, med, _ = robust_z(10, [10] * 30)  # flat history: no division by zero
    assert z == 0
    assert 870 < haversine_km(52.52, 13.405, 48.8566, 2.3522) < 890  # Berlin-Paris


def _baseline(ueba: Ueba, hours: int = 72) -> int:
    """Three days of 10 requests per hour from two IPs at work hours only."""
    i = 0
    for h in range(hours):
        t = T0 + timedelta(hours=h)
        ueba.analyse(
            [
                gw(t + timedelta(minutes=m), i := i + 1, client_ip=f"10.0.0.{m % 2}")
                for m in range(10)
            ]
        )
    return i


def test_volume_spike_is_explained(runtime: Runtime, clock: FixedClock) -> None:
    alerts = AlertStore(runtime.store, clock)
    ueba = Ueba(runtime.store, clock, alerts, CFG)
    i = _baseline(ueba)
    t = T0 + timedelta(hours=72, minutes=1)
    ueba.analyse([gw(t + timedelta(seconds=s), i + s, client_ip="10.0.0.1") for s in range(400)])
    (msg,) = messages(alerts, "ueba:volume_requests")
    assert msg.startswith("crm-sync made ") and "baseline median 10" in msg and "robust z =" in msg


def test_new_ip_after_warmup_but_not_during(runtime: Runtime, clock: FixedClock) -> None:
    alerts = AlertStore(runtime.store, clock)
    ueba = Ueba(runtime.store, clock, alerts, CFG)
    ueba.analyse([gw(T0, 1, client_ip="192.0.2.1")])  # during warm-up: silent
    assert messages(alerts, "ueba:new_source_IP") == []
    i = _baseline(ueba)
    ueba.analyse([gw(T0 + timedelta(hours=80), i + 1, client_ip="203.0.113.9")])
    (msg,) = messages(alerts, "ueba:new_source_IP")
    assert msg == "crm-sync used a new source IP 203.0.113.9; 3 known in 30 days"


def test_state_survives_restart(runtime: Runtime, clock: FixedClock) -> None:
    alerts = AlertStore(runtime.store, clock)
    i = _baseline(Ueba(runtime.store, clock, alerts, CFG))
    fresh = Ueba(runtime.store, clock, alerts, CFG)  # a restarted worker
    fresh.analyse([gw(T0 + timedelta(hours=80), i + 1, client_ip="203.0.113.77")])
    assert len(messages(alerts, "ueba:new_source_IP")) == 1


def test_unusual_hour_of_week(runtime: Runtime, clock: FixedClock) -> None:
    alerts = AlertStore(runtime.store, clock)
    ueba = Ueba(runtime.store, clock, alerts, CFG)
    i = 0
    for d in range(4):  # 4 days, 09:00-16:59 only
        for h in range(9, 17):
            ueba.analyse(
                [gw(T0 + timedelta(days=d, hours=h, minutes=m), i := i + 1) for m in (0, 30)]
            )
    ueba.analyse([gw(T0 + timedelta(days=4, hours=3), i + 1)])
    (msg,) = messages(alerts, "ueba:unusual_hour")
    assert msg.startswith("crm-sync active Mon 03:00 UTC; 0 of 64 previous events")


def test_impossible_travel(runtime: Runtime, clock: FixedClock) -> None:
    alerts = AlertStore(runtime.store, clock)
    ueba = Ueba(runtime.store, clock, alerts, CFG)
    ueba.analyse([signin(T0, "a", "198.51.100.1", 52.52, 13.405, "Berlin")])
    ueba.analyse([signin(T0 + timedelta(minutes=30), "b", "203.0.113.5", 40.71, -74.0, "New York")])
    (msg,) = messages(alerts, "ueba:impossible_travel")
    assert "Berlin and New York 30 min apart" in msg and "km/h" in msg
    # a plausible trip later is fine
    ueba.analyse([signin(T0 + timedelta(hours=12), "c", "203.0.113.99", 52.52, 13.405, "Berlin")])
    assert len(messages(alerts, "ueba:impossible_travel")) == 1


def test_api_monitoring_signals(runtime: Runtime, clock: FixedClock) -> None:
    alerts = AlertStore(runtime.store, clock)
    mon = ApiMonitor(
        alerts, ApiMonitorConfig(min_requests=10, auth_burst=15, max_future_skew=NO_FUTURE_GATE)
    )
    t = T0
    healthy = [gw(t + timedelta(seconds=s), s, latency_ms=20.0) for s in range(30)]
    mon.analyse(healthy)
    assert alerts.list() == []
    slow = [gw(t + timedelta(seconds=30 + s), 100 + s, latency_ms=900.0) for s in range(30)]
    mon.analyse(slow)
    assert any("p95 latency 900 ms" in m for m in messages(alerts, "apimon:latency"))
    down = [gw(t + timedelta(seconds=70 + s), 200 + s, status=502) for s in range(40)]
    mon.analyse(down)
    assert messages(alerts, "apimon:upstream_down")[0].endswith("failed 10 requests in a row")
    assert "failed with 5xx" in messages(alerts, "apimon:error_rate")[0]
    denied = [gw(t + timedelta(seconds=300 + s / 2), 300 + s, status=403) for s in range(20)]
    mon.analyse(denied)
    assert "refused with 401/403" in messages(alerts, "apimon:auth_burst")[0]


def test_peer_group_outlier(runtime: Runtime, clock: FixedClock) -> None:
    alerts = AlertStore(runtime.store, clock)
    ueba = Ueba(runtime.store, clock, alerts, CFG)
    batch = []
    for k in range(8):  # 8 integrations, ~10 requests each in hour 0; one makes 300
        n = 300 if k == 3 else 10 + k
        batch += [
            gw(T0 + timedelta(seconds=j), 1000 * k + j, integration=f"int-{k}") for j in range(n)
        ]
    ueba.analyse(batch)
    assert messages(alerts, "ueba:peer_outlier") == []  # the hour is still open
    ueba.analyse([gw(T0 + timedelta(hours=1, minutes=1), 99999, integration="int-0")])
    (msg,) = messages(alerts, "ueba:peer_outlier")
    assert msg.startswith("int-3 made 300 ringfence requests in the hour from 2026-01-01 00:00")
    assert "7 peers median 14" in msg


def test_two_workers_creating_the_same_baseline_both_commit(
    store: Store, clock: FixedClock
) -> None:
    """Both workers read "no baseline yet" before either writes: the second write used to fail
    the whole batch on the primary key (redelivered a second later); now the last one wins."""
    alerts = AlertStore(store, clock)
    first, second = Ueba(store, clock, alerts, CFG), Ueba(store, clock, alerts, CFG)
    first._state("crm-sync", "rate")["n"] = 1
    second._state("crm-sync", "rate")["n"] = 2
    first._flush()
    second._flush()
    with store.session() as s:
        row = s.get(UebaState, {"entity": "crm-sync", "signal": "rate"})
        assert row is not None and row.state == {"n": 2, "_v": 1}
    assert Ueba(store, clock, alerts, CFG)._state("crm-sync", "rate") == {"n": 2}


def test_malformed_fields_do_not_stop_the_batch(runtime: Runtime, clock: FixedClock) -> None:
    """A gateway event whose raw ``records`` is not a count, or a sign-in whose endpoint is not
    an object, is analysed as far as it can be; the rest of the batch is analysed too (an
    exception here skipped the batch, and a redelivery does not analyse it again)."""
    from dataclasses import replace

    alerts = AlertStore(runtime.store, clock)
    ueba = Ueba(runtime.store, clock, alerts, CFG)
    i = _baseline(ueba)
    t = T0 + timedelta(hours=72, minutes=1)
    odd = [
        gw(t, i + 1, records=value)
        for value in ("many", "nan", "inf", "-5", "1e400", "1e308", 1e308, {"n": 1}, [3], True)
    ]
    travel = signin(t, "odd", "198.51.100.7", 52.52, 13.405, "Berlin")
    odd.append(replace(travel, ocsf={**travel.ocsf, "src_endpoint": "198.51.100.7"}))
    odd.append(replace(travel, ocsf={**travel.ocsf, "src_endpoint": {"location": "Berlin"}}))
    # then a burst that must still be seen: the batch was not abandoned at the odd events
    burst = [gw(t + timedelta(seconds=s), i + 10 + s, client_ip="10.0.0.1") for s in range(400)]
    ueba.analyse([*odd, *burst])
    (msg,) = messages(alerts, "ueba:volume_requests")
    assert "baseline median 10" in msg
    assert messages(alerts, "ueba:volume_records") == []  # nothing counted from the odd values
    # the next hour closes this one (its sums go into the history) without trouble, and a
    # counter a previous version let grow past what a float holds is read as 0
    ueba.analyse([gw(t + timedelta(hours=1), i + 900, client_ip="10.0.0.1")])
    hourly = ueba._state("crm-sync", "hourly")
    hourly["records"] = 10**400
    ueba.analyse([gw(t + timedelta(hours=2), i + 901, client_ip="10.0.0.1")])
    assert max(hourly["history"]["records"]) < 1e6


def test_vendor_coordinates_out_of_range_are_no_place(runtime: Runtime, clock: FixedClock) -> None:
    """A sign-in whose coordinates are NaN, out of range or not numbers is not placed: it
    neither convicts nor resets the last known place."""
    alerts = AlertStore(runtime.store, clock)
    ueba = Ueba(runtime.store, clock, alerts, CFG)
    ueba.analyse([signin(T0, "a", "198.51.100.1", 52.52, 13.405, "Berlin")])
    odd = signin(T0 + timedelta(minutes=10), "b", "203.0.113.5", 0.0, 0.0, "Nowhere")
    for bad in ([float("nan"), 1.0], [1e9, 2.0], [True, 2.0], [13.4, 95.0], ["13", "52"]):
        odd.ocsf["src_endpoint"]["location"]["coordinates"] = bad
        assert ueba._travel(odd) == [], bad
    ueba.analyse([signin(T0 + timedelta(hours=12), "c", "198.51.100.1", 52.52, 13.405, "Berlin")])
    assert messages(alerts, "ueba:impossible_travel") == []
