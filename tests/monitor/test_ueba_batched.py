"""The batched ``Ueba.analyse`` (baselines looked up once per entity and batch, derived sums
kept per batch) raises the same findings and leaves the same baselines as the per-event
implementation it replaced (``ueba_reference.ReferenceUeba``), over seeded streams that fire
every signal, cut into batches of every size, with late and actor-less events among them."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ringfence.core.clock import FixedClock
from ringfence.monitor.alerts import AlertStore, Finding
from ringfence.monitor.events import Event
from ringfence.monitor.models import UebaState
from ringfence.monitor.ueba import Ueba, UebaConfig
from ringfence.store.db import Store
from tests.monitor.ueba_reference import ReferenceUeba

T0 = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
CFG = UebaConfig(
    warmup_days=1,
    warmup_events=10,
    new_term_days=1,
    min_history_hours=6,
    max_terms=6,
    min_peers=5,
    max_future_skew=10 * 365 * 86400.0,  # timelines run ahead of the fixed clock
)
CITIES = [("Berlin", 52.52, 13.405), ("Sydney", -33.87, 151.21), ("Paris", 48.86, 2.35)]
SIGNALS = {
    "ueba:new_source_IP",
    "ueba:new_country",
    "ueba:new_user_agent",
    "ueba:new_endpoint",
    "ueba:new_destination_app",
    "ueba:volume_requests",
    "ueba:volume_records",
    "ueba:unusual_hour",
    "ueba:peer_outlier",
    "ueba:impossible_travel",
}


class RecordingAlerts(AlertStore):
    def __init__(self, store: Store, clock: FixedClock) -> None:
        super().__init__(store, clock)
        self.batches: list[list[tuple[Any, ...]]] = []

    def raise_findings(self, findings: Sequence[Finding]) -> list[Any]:
        self.batches.append([_key(f) for f in findings])
        return []


def _key(f: Finding) -> tuple[Any, ...]:
    return (
        f.rule_key,
        f.title,
        f.severity,
        f.entity,
        f.sentence,
        f.time,
        tuple(e.id for e in f.events),
        tuple(f.tags),
        tuple(sorted(f.extra.items())),
    )


def _event(rng: random.Random, i: int, t: datetime, actor: str | None, source: str) -> Event:
    ocsf: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    src_ip = f"10.0.{rng.randrange(2)}.{rng.choice([1, 1, 1, 2, rng.randrange(256)])}"
    city, lat, lon = rng.choice(CITIES) if rng.random() < 0.15 else CITIES[0]
    if rng.random() < 0.9:
        ocsf["src_endpoint"] = {
            "ip": src_ip,
            "location": {"country": city[:2], "city": city, "coordinates": [lon, lat]},
        }
    if rng.random() < 0.8:
        ocsf["http_request"] = {
            "user_agent": rng.choice(["ua/1", "ua/1", "ua/2", "", 7, f"ua/{rng.randrange(40)}"])
        }
    if source == "ringfence":
        ocsf["api"] = {"operation": rng.choice(["list", "list", "get", f"op{rng.randrange(9)}"])}
        raw["records"] = rng.choice([0, 5, 10, "12", 2.5, None])
    if rng.random() < 0.5:
        ocsf["dst_endpoint"] = {
            "hostname": rng.choice(["crm.example", None, f"app{rng.randrange(30)}.example"])
        }
    if source == "ringfence" and rng.random() < 0.02:
        ocsf["src_endpoint"] = "odd"  # not a dict: no country (sign-ins would not survive it)
    return Event(
        id=f"e{i}",
        time=t,
        source=source,
        class_uid=3002 if source == "okta" else 6003,
        activity_id=1,
        action="x",
        ocsf=ocsf,
        raw=raw,
        actor=actor,
        src_ip=src_ip if rng.random() < 0.95 else None,
    )


def _stream(seed: int, hours: int = 150) -> list[Event]:
    """Eight integrations through the gateway and three people in Okta, mostly at work hours,
    with spikes (one entity 20x for an hour), a night shift now and then, new terms and
    far-apart sign-ins; events arrive a little out of order, some hours late."""
    rng = random.Random(seed)
    out: list[Event] = []
    i = 0
    gateway = [f"int-{k}" for k in range(8)]
    people = ["ann@example.com", "bob@example.com", "cy@example.com"]
    for h in range(hours):
        base = T0 + timedelta(hours=h)
        night = base.hour < 7 or base.hour > 19
        for actor in gateway + people:
            source = "ringfence" if actor in gateway else "okta"
            n = rng.randrange(1, 3) if night and rng.random() < 0.97 else rng.randrange(4, 12)
            if night and rng.random() < 0.9:
                n = 0
            if rng.random() < 0.01:
                n *= 20
            for _ in range(n):
                t = base + timedelta(seconds=rng.randrange(3600), microseconds=rng.randrange(9))
                i += 1
                out.append(_event(rng, i, t, actor, source))
        if rng.random() < 0.1:
            i += 1
            out.append(_event(rng, i, base, None, "ringfence"))  # no actor: not analysed
    out.sort(key=lambda e: e.time)
    # a little out of order: swap neighbours, and now and then an event from hours back
    for k in range(1, len(out)):
        if rng.random() < 0.1:
            out[k - 1], out[k] = out[k], out[k - 1]
    for _ in range(len(out) // 200):
        k = rng.randrange(len(out))
        out.insert(min(len(out), k + rng.randrange(200, 800)), out.pop(k))
    return out


def _batches(rng: random.Random, events: list[Event]) -> Iterator[list[Event]]:
    k = 0
    while k < len(events):
        n = rng.choice([1, 2, 7, 50, 200, 1000])
        yield events[k : k + n]
        k += n


def _run(cls: type[Ueba], tmp: Path, events: list[Event], seed: int) -> tuple[Any, ...]:
    store = Store(f"sqlite:///{tmp / f'{cls.__name__}.db'}")
    store.migrate()
    clock = FixedClock(T0)
    alerts = RecordingAlerts(store, clock)
    ueba = cls(store, clock, alerts, CFG)
    restarted = False
    for n, batch in enumerate(_batches(random.Random(seed), events)):
        if n == 40 and not restarted:  # a restarted worker: baselines come from the store
            ueba, restarted = cls(store, clock, alerts, CFG), True
        ueba.analyse(batch)
    with store.session() as s:
        rows = {(r.entity, r.signal): r.state for r in s.query(UebaState)}
    store.dispose()
    return alerts.batches, ueba._cache, rows


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_batched_ueba_agrees_with_the_per_event_reference(tmp_path: Path, seed: int) -> None:
    events = _stream(seed)
    ours = _run(Ueba, tmp_path, events, seed)
    ref = _run(ReferenceUeba, tmp_path, events, seed)
    assert ours[0] == ref[0]  # the same findings, batch by batch, in the same order
    # the same baselines in memory (ours also caches, empty, the travel baseline of an entity
    # whose sign-ins had no coordinates: read ahead with the batch's others, never written)
    assert {k: v for k, v in ours[1].items() if v or k in ref[1]} == ref[1]
    assert ours[2] == ref[2]  # and in the store
    fired = {f[0] for batch in ref[0] for f in batch}
    assert fired == SIGNALS, SIGNALS - fired  # the stream exercises every signal


def test_hour_of_week_slot_is_the_utc_weekday_and_hour(sqlite_store: Store) -> None:
    """The slot is computed from the hour since the epoch; a time with another UTC offset and
    the days around the epoch's weekday land where ``astimezone(UTC)`` puts them."""
    clock = FixedClock(T0)
    ueba = Ueba(sqlite_store, clock, AlertStore(sqlite_store, clock), CFG)
    plus2 = datetime(2026, 1, 5, 1, 30, tzinfo=timezone(timedelta(hours=2)))  # Sunday 23h UTC
    times = [
        datetime(1970, 1, 1, 0, tzinfo=UTC),  # Thursday 00h
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),  # Wednesday 23h
        datetime(2026, 1, 4, 23, 59, 59, 999999, tzinfo=UTC),  # Sunday 23h
        datetime(2026, 1, 5, 0, 0, tzinfo=UTC),  # Monday 00h
        plus2,
    ]
    rng = random.Random(0)
    ueba.analyse([_event(rng, k, t, "a", "okta") for k, t in enumerate(times)])
    bins = ueba._state("a", "hour_of_week")["bins"]
    want = [0] * 168
    for t in times:
        u = t.astimezone(UTC)
        want[u.weekday() * 24 + u.hour] += 1
    assert bins == want


def test_a_batch_sees_its_own_hour_of_week_counts(tmp_path: Path) -> None:
    """Night-time activity on several weekdays in ONE batch: the first nights are unusual, and
    once this hour of the day holds 1 % of the history the next night is not — the counts
    derived for the batch must follow every event of it, as the per-event code did."""
    rng = random.Random(5)
    day_work = [
        _event(rng, k, T0 + timedelta(days=k % 7, hours=10, minutes=k % 60), "a", "okta")
        for k in range(300)
    ]
    nights = [
        _event(rng, 1000 + k, T0 + timedelta(days=7 + k, hours=3), "a", "okta") for k in range(7)
    ]
    results = []
    for cls in (Ueba, ReferenceUeba):
        store = Store(f"sqlite:///{tmp_path / f'{cls.__name__}.db'}")
        store.migrate()
        clock = FixedClock(T0)
        alerts = RecordingAlerts(store, clock)
        ueba = cls(store, clock, alerts, CFG)
        ueba.analyse(day_work)
        ueba.analyse(nights)
        results.append([f for batch in alerts.batches for f in batch if "hour" in f[0]])
        store.dispose()
    assert results[0] == results[1]
    assert 1 <= len(results[1]) < len(nights)


def test_a_batch_reads_its_entities_baselines_in_one_query_per_500(sqlite_store: Store) -> None:
    """600 entities known from before a restart: their baselines are read in two queries (was
    one per entity and signal) and carry on where they were."""
    from sqlalchemy import event

    clock = FixedClock(T0)
    alerts = RecordingAlerts(sqlite_store, clock)
    rng = random.Random(9)
    actors = [f"user-{k}@example.com" for k in range(600)]
    first = [_event(rng, k, T0 + timedelta(seconds=k), a, "okta") for k, a in enumerate(actors)]
    Ueba(sqlite_store, clock, alerts, CFG).analyse(first)
    selects: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "monitor_ueba_state" in statement:
            selects.append(statement)

    event.listen(sqlite_store.engine, "before_cursor_execute", count)
    try:
        restarted = Ueba(sqlite_store, clock, alerts, CFG)
        later = T0 + timedelta(hours=1)
        restarted.analyse([_event(rng, 1000 + k, later, a, "okta") for k, a in enumerate(actors)])
    finally:
        event.remove(sqlite_store.engine, "before_cursor_execute", count)
    assert len(selects) == 2
    assert all(restarted._cache[(a, "profile")]["events"] == 2 for a in actors)
    travelled = [a for a in actors if restarted._cache[(a, "travel")]]
    assert len(travelled) > 500  # sign-ins with coordinates, from before and after
