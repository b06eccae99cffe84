"""Behaviour analytics (UEBA) that explain themselves: per-entity baselines, each anomaly a
sentence a person can check.

Signals (per entity = actor: a person or an integration):

* new terms — first source IP, country, user agent, endpoint or destination app after the
  warm-up ("crm-sync used a new source IP 203.0.113.9; 4 known in 30 days");
* volume — requests and records per hour against the entity's hourly history with the robust
  z-score ``0.6745*(x - median)/MAD`` ("crm-sync read 48,210 records in 1 h; baseline median
  1,200; robust z = 9.4");
* unusual hour of week — activity in an hour-of-week bin the entity has never used;
* impossible travel — two sign-ins whose great-circle distance / time exceeds ``max_kmh``;
* peer group — an entity's hourly request count against the other entities of its source.

State lives in ``monitor_ueba_state`` and survives restarts. Nothing here is a black box and
nothing fires before the warm-up (``warmup_days`` of history and ``warmup_events`` events).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ringfence.core.clock import Clock
from ringfence.core.logging import get_logger
from ringfence.monitor.alerts import AlertStore, Finding
from ringfence.monitor.batchtx import StaleState, joined
from ringfence.monitor.events import Event
from ringfence.monitor.geoip import GeoIP, degrees
from ringfence.monitor.models import UebaState
from ringfence.store.db import Store

_log = get_logger(__name__)

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# the baselines every event of an entity touches (read for all a batch's entities at once;
# "travel" too for the entities with sign-ins)
_SIGNALS = ("profile", "terms", "hourly", "hour_of_week")


@dataclass
class UebaConfig:
    warmup_days: float = 7.0
    warmup_events: int = 50
    new_term_days: int = 30
    z_threshold: float = 3.5
    min_history_hours: int = 24
    max_kmh: float = 900.0
    min_travel_km: float = 500.0
    max_terms: int = 500
    min_peers: int = 5
    # An event dated more than this many seconds after the server's clock moves no baseline
    # (counted in ``Ueba.future_events``): one record from next month would otherwise move an
    # entity's hour counter ahead and every real event after it would count as late.
    max_future_skew: float = 600.0


def _get(d: Any, *path: str) -> str | None:
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)
    return str(d) if isinstance(d, str | int | float) and d != "" else None


# The most records one gateway request can claim to have moved (a bigger value is not a
# count): keeps an hour's sum far inside what a float holds.
MAX_RECORDS = 1_000_000_000


def _dig(d: Any, *path: str) -> Any:
    """The value at ``path`` in nested dicts, or None where a step is missing or not a dict."""
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)
    return d


def _count(text: str | None) -> int:
    """A record count from an event field: a non-negative whole number, else 0 (a malformed
    or hostile value must not stop the analysis of the rest of the batch)."""
    if not text:
        return 0
    try:
        value = float(text)
    except ValueError:
        return 0
    return int(value) if math.isfinite(value) and 0 < value <= MAX_RECORDS else 0


def _stored_count(value: Any) -> float:
    """A counter read back from stored state; one a previous version let grow out of range
    (or that is not a number) counts as 0 rather than stopping the analysis."""
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        return 0.0
    return x if math.isfinite(x) and 0 <= x <= MAX_RECORDS * 1e6 else 0.0


def robust_z(x: float, history: Sequence[float]) -> tuple[float, float, float]:
    """(z, median, MAD); MAD 0 falls back to the mean absolute deviation (then to 1)."""
    med, mad = robust_scale(history)
    return 0.6745 * (x - med) / mad, med, mad


def robust_scale(history: Sequence[float]) -> tuple[float, float]:
    """(median, MAD) of ``history`` as ``robust_z`` uses them: an hour's volume checks score
    every event of the hour against the same history, so they compute this once per hour."""
    med = statistics.median(history)
    mad = statistics.median([abs(h - med) for h in history])
    if mad == 0:
        mean_ad = sum(abs(h - med) for h in history) / len(history)
        mad = mean_ad / 0.7979 if mean_ad else 1.0  # MeanAD → MAD-equivalent scale
    return med, mad


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


class Ueba:
    """An analyser (``Monitor`` calls ``analyse`` with new events)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        alerts: AlertStore,
        config: UebaConfig | None = None,
        geoip: GeoIP | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.alerts = alerts
        self.cfg = config or UebaConfig()
        # ASN (and the country where the vendor gives none) of source IPs, when configured
        self.geoip = geoip
        self._cache: dict[tuple[str, str], dict[str, Any]] = {}
        self._dirty: set[tuple[str, str]] = set()
        # written into a batch transaction that is not committed yet: forgotten (read again
        # from the store) if it rolls back, so a redelivered batch is not counted twice
        self._uncommitted: set[tuple[str, str]] = set()
        # the version (``_v`` in the stored state, +1 per write) of each baseline as this
        # process read or wrote it, by stored key; None: not stored when read. A batch
        # transaction writes a baseline only if it is still at that version, else it is
        # StaleState and runs again with the stored one (several workers share baselines:
        # before, each wrote its cached copy over the others', last writer winning)
        self._versions: dict[tuple[str, str], int | None] = {}
        self.future_events = 0  # ignored: dated past the clock + max_future_skew
        self.late_uncounted = 0  # late events older than the volume history kept

    # -- state ----------------------------------------------------------------------------
    def _state(self, entity: str, signal: str) -> dict[str, Any]:
        key = (entity, signal)
        st = self._cache.get(key)
        if st is None:
            with self._session() as s:
                row = s.get(UebaState, {"entity": entity[:400], "signal": signal})
                st = self._loaded((entity[:400], signal), row)
            self._cache[key] = st
        self._dirty.add(key)
        return st

    def _preload(self, keys: Iterable[tuple[str, str]]) -> None:
        """Read the baselines of ``keys`` that are not cached yet, in one query per 500
        entities: a batch with new entities used to read them one (entity, signal) at a time,
        each in its own session. The same rows as ``_state`` would read; not marked touched."""
        wanted: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for entity, signal in keys:
            if (entity, signal) not in self._cache:
                wanted.setdefault((entity[:400], signal), []).append((entity, signal))
        if not wanted:
            return
        names = sorted({entity for entity, _ in wanted})
        rows: dict[tuple[str, str], UebaState] = {}
        with self._session() as s:
            for chunk in (names[i : i + 500] for i in range(0, len(names), 500)):
                for row in s.scalars(select(UebaState).where(UebaState.entity.in_(chunk))):
                    if (row.entity, row.signal) in wanted:
                        rows[(row.entity, row.signal)] = row
            for db_key, cache_keys in wanted.items():
                found = rows.get(db_key)
                for key in cache_keys:
                    self._cache[key] = self._loaded(db_key, found)

    def _loaded(self, db_key: tuple[str, str], row: UebaState | None) -> dict[str, Any]:
        """A stored baseline as the analysis uses it (its version kept apart)."""
        if row is None:
            self._versions[db_key] = None
            return {}
        st = dict(row.state)
        version = st.pop("_v", 0)
        self._versions[db_key] = version if isinstance(version, int) else 0
        return st

    def _preload_for(self, events: Sequence[Event]) -> None:
        seen = {(e.actor, e.source, e.class_uid == 3002) for e in events if e.actor}
        self._preload(
            [
                *((actor, signal) for actor in {a for a, _, _ in seen} for signal in _SIGNALS),
                *((actor, "travel") for actor, _, signs_in in seen if signs_in),
                *((f"peers:{source}", "hourly") for source in {s for _, s, _ in seen}),
            ]
        )

    def _flush(self) -> None:
        """Upsert the touched baselines (last writer wins). One statement: two workers that
        create the same baseline at once no longer fail a batch on the primary key."""
        if not self._dirty:
            return
        now = self.clock.now()
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for entity, signal in sorted(self._dirty):  # stable order: no deadlock between workers
            db_key = (entity[:400], signal)
            rows[db_key] = {
                "entity": entity[:400],
                "signal": signal,
                "state": {
                    **self._cache[(entity, signal)],
                    "_v": (self._versions.get(db_key) or 0) + 1,
                },
                "updated_at": now,
            }
        insert = pg_insert if self.store.dialect == "postgresql" else sqlite_insert
        stmt = insert(UebaState)
        stmt = stmt.on_conflict_do_update(
            index_elements=["entity", "signal"],
            set_={"state": stmt.excluded.state, "updated_at": stmt.excluded.updated_at},
        )
        tx = joined(self.store)
        if tx is not None:
            self._uncommitted |= self._dirty  # forgotten if anything below fails
            self._check_versions(tx.session, sorted(rows))
            tx.session.execute(stmt, list(rows.values()))
        else:  # on its own (not through Monitor): last writer wins, as before
            with self.store.session() as s:
                s.execute(stmt, list(rows.values()))
        for db_key, row in rows.items():
            self._versions[db_key] = row["state"]["_v"]
        self._dirty.clear()

    def _check_versions(self, s: Session, keys: list[tuple[str, str]]) -> None:
        """Lock the stored baselines of ``keys`` (PostgreSQL: ``FOR UPDATE``, in key order, so
        workers lock shared rows in the same order; SQLite: the batch holds the write lock)
        and raise StaleState if one is not at the version this process read it at."""
        stored: dict[tuple[str, str], int] = {}
        wanted = set(keys)
        names = sorted({entity for entity, _ in keys})
        for chunk in (names[i : i + 500] for i in range(0, len(names), 500)):
            q = (
                select(UebaState.entity, UebaState.signal, UebaState.state["_v"].as_integer())
                .where(UebaState.entity.in_(chunk))
                .order_by(UebaState.entity, UebaState.signal)
                .with_for_update()
            )
            for entity, signal, version in s.execute(q):
                if (entity, signal) in wanted:
                    stored[(entity, signal)] = int(version or 0)
        stale = [k for k in keys if stored.get(k) != self._versions.get(k)]
        if stale:
            raise StaleState(
                f"{len(stale)} UEBA baselines changed by another worker, e.g. {stale[0][1]} "
                f"of {stale[0][0][:80]!r}"
            )

    @contextmanager
    def _session(self) -> Iterator[Session]:
        """The open batch transaction's session (reads see what it wrote), else a new one."""
        tx = joined(self.store)
        if tx is not None:
            yield tx.session
            return
        with self.store.session() as s:
            yield s

    def commit(self) -> None:
        """The batch transaction committed: the cached baselines are the stored ones."""
        self._uncommitted.clear()

    def rollback(self) -> None:
        """The batch transaction (or the analysis) failed: forget every baseline it moved, so
        they are read back as stored and the redelivered batch counts its events once."""
        for key in self._uncommitted | self._dirty:
            self._cache.pop(key, None)
            self._versions.pop((key[0][:400], key[1]), None)
        self._uncommitted.clear()
        self._dirty.clear()

    # -- analysis -------------------------------------------------------------------------
    def analyse(self, events: Sequence[Event]) -> None:
        """Every event in time order, as if one by one; each entity's baselines are looked up
        once per batch (not once per event and signal), and its derived sums (hour-of-week
        totals, the volume history's median and MAD) are computed once per batch or hour.
        If it fails, the baselines it moved are forgotten (read again from the store)."""
        try:
            self._analyse(events)
        except BaseException:
            self.rollback()
            raise

    def _analyse(self, events: Sequence[Event]) -> None:
        findings: list[Finding] = []
        cfg = self.cfg
        warmup_s = cfg.warmup_days * 86400
        warmup_events = cfg.warmup_events
        entities: dict[str, _Baselines] = {}
        peers: dict[str, dict[str, Any]] = {}
        latest = self.clock.now().timestamp() + cfg.max_future_skew
        future = 0
        ordered = sorted(events, key=_event_time)
        for i, e in enumerate(ordered):
            actor = e.actor
            if not actor:
                continue
            if e.time.timestamp() > latest:
                future += 1  # never moves a baseline's clock (see max_future_skew)
                continue
            b = entities.get(actor)
            if b is None:
                if (actor, "profile") not in self._cache:
                    # an entity not seen before: read the baselines of it and of every other
                    # new entity of the rest of the batch at once
                    self._preload_for(ordered[i:])
                b = entities[actor] = _Baselines(
                    self._state(actor, "profile"),
                    self._state(actor, "terms"),
                    self._state(actor, "hourly"),
                    self._state(actor, "hour_of_week"),
                )
            ts = e.time.timestamp()
            profile = b.profile
            first = profile.setdefault("first_seen", ts)
            n = profile["events"] = int(profile.get("events", 0)) + 1
            warm = ts - float(first) >= warmup_s and n > warmup_events
            hour = int(ts // 3600)
            self._new_terms(e, b.terms, ts, warm, findings)
            self._volume(e, b, hour, warm, findings)
            self._hour_of_week(e, b, hour, warm, findings)
            peer_state = peers.get(e.source)
            if peer_state is None:
                peer_state = peers[e.source] = self._state(f"peers:{e.source}", "hourly")
            self._peers(e, peer_state, hour, findings)
            if e.class_uid == 3002:
                findings.extend(self._travel(e))
        if future:
            self.future_events += future
            _log.warning("ueba ignored events dated in the future", events=future)
        self._flush()
        if findings:
            self.alerts.raise_findings(findings)

    def _finding(
        self, e: Event, signal: str, title: str, sentence: str, sev: str, **extra: Any
    ) -> Finding:
        return Finding(
            rule_key=f"ueba:{signal}",
            title=title,
            severity=sev,
            kind="ueba",
            entity=e.actor or "?",
            sentence=sentence,
            time=e.time,
            events=[e],
            tags=["ueba", signal],
            extra={"signal": signal, **extra},
        )

    def _new_terms(
        self, e: Event, st: dict[str, Any], ts: float, warm: bool, out: list[Finding]
    ) -> None:
        horizon = ts - self.cfg.new_term_days * 86400
        limit = self.cfg.max_terms * 1.25
        for name, value in _terms_of(e, self.geoip):
            if value is None:
                continue
            seen: dict[str, float] | None = st.get(name)
            if seen is None:
                seen = st.setdefault(name, {})
            last = seen.get(value)
            if (last is None or last < horizon) and warm and seen:
                known = sum(1 for t in seen.values() if t >= horizon)
                if known:
                    shown = value
                    if name == "ASN" and self.geoip is not None and e.src_ip:
                        org = self.geoip.lookup(e.src_ip).asn_org
                        shown = f"{value} ({org})" if org else value
                    out.append(
                        self._finding(
                            e,
                            f"new_{name.replace(' ', '_')}",
                            f"New {name} for {e.actor}",
                            f"{e.actor} used a new {name} {shown}; {known} known in "
                            f"{self.cfg.new_term_days} days",
                            "high" if name in ("country", "IP country") else "medium",
                            value=value,
                            known=known,
                        )
                    )
            seen[value] = ts
            if len(seen) > limit:  # trim in chunks: amortised cost
                # the oldest first, ties in insertion order (a stable sort on the time)
                oldest = sorted(seen.items(), key=itemgetter(1))
                for k, _ in oldest[: len(seen) - self.cfg.max_terms]:
                    del seen[k]

    def _volume(self, e: Event, b: _Baselines, hour: int, warm: bool, out: list[Finding]) -> None:
        st = b.hourly
        cur = st.get("hour")
        if cur is not None and hour > cur:
            hist: dict[str, list[float]] = st.setdefault("history", {})
            for metric in ("requests", "records"):
                h = hist.setdefault(metric, [])
                h.append(_stored_count(st.get(metric, 0)))
                # hours with no activity count as zeros, up to a week of them
                h.extend([0.0] * min(hour - cur - 1, 168))
                del h[:-336]
            st.update({"hour": hour, "requests": 0, "records": 0, "alerted": []})
            b.volume_scale.clear()  # the history changed
        elif cur is None:
            st.update({"hour": hour, "requests": 0, "records": 0, "alerted": []})
        elif hour < cur:
            # A late event (a batch redelivered, or handled by another worker, after a newer
            # one closed this hour): counted in the closed hour's history slot, and that hour
            # checked again — a burst reported late still alerts.
            records = _count(_get(e.raw, "records")) if e.source == "ringfence" else 0
            self._late_volume(e, b, hour, cur, records, warm, out)
            return
        st["requests"] = int(st.get("requests", 0)) + 1
        records = _count(_get(e.raw, "records")) if e.source == "ringfence" else 0
        st["records"] = int(_stored_count(st.get("records", 0))) + records
        if not warm:
            return
        for metric in ("requests", "records"):
            history = st.get("history", {}).get(metric, [])
            if len(history) < self.cfg.min_history_hours or metric in st["alerted"]:
                continue
            found = self._volume_finding(e, b, metric, _stored_count(st[metric]), history, None)
            if found is not None:
                st["alerted"].append(metric)
                out.append(found)

    def _volume_finding(
        self,
        e: Event,
        b: _Baselines,
        metric: str,
        x: float,
        history: list[float],
        late_hour: int | None,
    ) -> Finding | None:
        """The volume alert for ``x`` requests or records in an hour (the current one, or the
        closed ``late_hour``) against the entity's history, or None."""
        scale = b.volume_scale.get(metric)
        if scale is None:
            scale = b.volume_scale[metric] = robust_scale(history)
        med, mad = scale
        z = 0.6745 * (x - med) / mad  # robust_z(x, history), the same arithmetic
        if z <= self.cfg.z_threshold or x <= med + 10:
            return None
        verb = "made" if metric == "requests" else "read"
        when = "in 1 h"
        extra: dict[str, Any] = {}
        if late_hour is not None:
            start = datetime.fromtimestamp(late_hour * 3600, UTC)
            when = f"in the hour from {start:%Y-%m-%d %H:00} UTC (reported late)"
            extra["late"] = True
        return self._finding(
            e,
            f"volume_{metric}",
            f"Unusual {metric} volume for {e.actor}",
            f"{e.actor} {verb} {int(x):,} {metric} {when}; baseline median {med:,.0f}; "
            f"robust z = {z:.1f}",
            "high" if z > 2 * self.cfg.z_threshold else "medium",
            value=x,
            median=med,
            z=round(z, 2),
            **extra,
        )

    def _late_volume(
        self,
        e: Event,
        b: _Baselines,
        hour: int,
        cur: int,
        records: int,
        warm: bool,
        out: list[Finding],
    ) -> None:
        """A late event's request (and records) added to the history slot of its closed hour,
        if the history still holds that hour; then that hour's volume is checked against the
        history as a current hour's is, at most one alert per closed hour and metric."""
        st = b.hourly
        back = cur - hour  # 1: the hour just closed, the history's last slot
        hist = st.get("history")
        if not isinstance(hist, dict):
            self.late_uncounted += 1
            return
        slots = {"requests": 1, "records": records}
        counted = False
        for metric, amount in slots.items():
            h = hist.get(metric)
            if isinstance(h, list) and back <= len(h):
                h[-back] = _stored_count(h[-back]) + amount
                counted = True
        if not counted:
            self.late_uncounted += 1  # older than the history kept (two weeks)
            return
        b.volume_scale.clear()  # the history changed
        if not warm:
            return
        alerted: list[str] = st.setdefault("late_alerted", [])
        for metric in slots:
            history = hist.get(metric, [])
            tag = f"{hour}:{metric}"
            if len(history) < self.cfg.min_history_hours or tag in alerted:
                continue
            x = _stored_count(history[-back])
            found = self._volume_finding(e, b, metric, x, history, hour)
            if found is not None:
                alerted.append(tag)
                del alerted[:-48]
                out.append(found)

    def _hour_of_week(
        self, e: Event, b: _Baselines, hour: int, warm: bool, out: list[Finding]
    ) -> None:
        st = b.hour_of_week
        # ``hour`` counts hours since the epoch (a Thursday, weekday 3) in UTC
        hod = hour % 24
        slot = ((hour // 24 + 3) % 7) * 24 + hod
        bins: list[int] | None = st.get("bins")
        if bins is None:  # (not setdefault: its default would be a new list every event)
            bins = st.setdefault("bins", [0] * 168)
        # Unusual = this hour of the week never used AND this hour of the day (any weekday)
        # under 1% of the history: a new weekday at the usual hours is not an anomaly.
        if warm:
            if b.bins_total is None:
                b.bins_total = sum(bins)
                b.bins_by_hour = [sum(bins[d * 24 + h] for d in range(7)) for h in range(24)]
            total, at_hour = b.bins_total, b.bins_by_hour[hod]
            if total >= self.cfg.warmup_events and bins[slot] == 0 and at_hour < 0.01 * total:
                t = e.time.astimezone(UTC)
                day = t.strftime("%Y-%m-%d")
                if st.get("alerted") != f"{day}:{slot}":
                    st["alerted"] = f"{day}:{slot}"
                    out.append(
                        self._finding(
                            e,
                            "unusual_hour",
                            f"{e.actor} active at an unusual hour",
                            f"{e.actor} active {_DAYS[t.weekday()]} {t.hour:02d}:00 UTC; 0 "
                            f"of {total:,} previous events in this hour of the week, "
                            f"{at_hour} at {t.hour:02d}:00 on any day",
                            "medium",
                            slot=slot,
                        )
                    )
        bins[slot] += 1
        if b.bins_total is not None:
            b.bins_total += 1
            b.bins_by_hour[hod] += 1

    def _peers(self, e: Event, st: dict[str, Any], hour: int, out: list[Finding]) -> None:
        """Peer-group comparison: when an hour closes, each entity's request count in it is
        compared with the other entities of the same source (integrations through the
        gateway, people in Okta ...): robust z over the peers, at least ``min_peers`` of them."""
        cur = st.get("hour")
        if cur is not None and hour > cur:
            counts: dict[str, int] = st.get("counts", {})
            if len(counts) > self.cfg.min_peers:
                for entity, n in sorted(counts.items()):
                    others = [float(c) for k, c in counts.items() if k != entity]
                    z, med, _ = robust_z(float(n), others)
                    if z > self.cfg.z_threshold and n > 2 * med + 10:
                        f = self._finding(
                            e,
                            "peer_outlier",
                            f"{entity} far above its peers",
                            f"{entity} made {n:,} {e.source} requests in the hour from "
                            f"{datetime.fromtimestamp(cur * 3600, UTC):%Y-%m-%d %H:00} UTC; "
                            f"{len(others)} peers median {med:,.0f}; robust z = {z:.1f}",
                            "medium",
                            value=n,
                            median=med,
                            z=round(z, 2),
                        )
                        f.entity, f.events = entity, []
                        out.append(f)
            st.update({"hour": hour, "counts": {}})
        elif cur is None:
            st.update({"hour": hour, "counts": {}})
        elif hour < cur:
            return
        counts = st["counts"]
        counts[e.actor or "?"] = int(counts.get(e.actor or "?", 0)) + 1

    def _travel(self, e: Event) -> list[Finding]:
        coords = _dig(e.ocsf, "src_endpoint", "location", "coordinates")
        where = _get(e.ocsf, "src_endpoint", "location", "city") or e.src_ip
        radius = 0.0  # km of uncertainty around the point (0: the vendor's coordinates)
        if (
            isinstance(coords, list)
            and len(coords) == 2
            and degrees(coords[0], 180) is not None
            and degrees(coords[1], 90) is not None
        ):
            lon, lat = float(coords[0]), float(coords[1])
        elif self.geoip is not None and e.src_ip:
            # No coordinates from the vendor (GitHub, Slack, ...): a City database's, with its
            # accuracy radius taken off the distance, so a vague location never convicts.
            info = self.geoip.lookup(e.src_ip)
            if info.lat is None or info.lon is None:
                return []
            lat, lon, radius = info.lat, info.lon, info.radius_km
            where = info.city or e.src_ip
        else:
            return []
        st = self._state(e.actor or "?", "travel")
        last = st.get("last")
        ts = e.time.timestamp()
        point = {"t": ts, "lat": lat, "lon": lon, "ip": e.src_ip, "where": where}
        if radius:
            point["r"] = radius
        # The newest sign-in stays the reference: a late (older) one is compared with it but
        # does not replace it. Before, a late sign-in replaced it and its negative time gap
        # counted as one minute (a false "impossible travel", and the next real one missed).
        late = last is not None and ts < float(last["t"])
        if not late:
            st["last"] = point
        if last is None or e.src_ip == last.get("ip"):
            return []
        km = haversine_km(last["lat"], last["lon"], lat, lon)
        km = max(0.0, km - radius - float(last.get("r", 0.0)))
        gap = abs(ts - float(last["t"]))
        kmh = km / max(gap / 3600, 1 / 60)
        if km < self.cfg.min_travel_km or kmh <= self.cfg.max_kmh:
            return []
        first, then = (point, last) if late else (last, point)
        minutes = gap / 60
        return [
            self._finding(
                e,
                "impossible_travel",
                f"Impossible travel for {e.actor}",
                f"{e.actor} signed in from {first['where']} and {then['where']} "
                f"{minutes:.0f} min apart: {km:,.0f} km, {kmh:,.0f} km/h",
                "high",
                km=round(km),
                kmh=round(kmh),
            )
        ]


class _Baselines:
    """One entity's persisted states for the length of a batch (the same dicts as the state
    cache's), with sums derived from them: computed on first use, kept up to date by the
    signals that change the states, dropped with the batch."""

    __slots__ = (
        "bins_by_hour",
        "bins_total",
        "hour_of_week",
        "hourly",
        "profile",
        "terms",
        "volume_scale",
    )

    def __init__(
        self,
        profile: dict[str, Any],
        terms: dict[str, Any],
        hourly: dict[str, Any],
        hour_of_week: dict[str, Any],
    ) -> None:
        self.profile = profile
        self.terms = terms
        self.hourly = hourly
        self.hour_of_week = hour_of_week
        # (median, MAD) of the volume history per metric, until the history changes
        self.volume_scale: dict[str, tuple[float, float]] = {}
        # sum of the hour-of-week bins, and per hour of the day (any weekday)
        self.bins_total: int | None = None
        self.bins_by_hour: list[int] = []


def _event_time(e: Event) -> datetime:
    return e.time


def _terms_of(e: Event, geoip: GeoIP | None = None) -> tuple[tuple[str, str | None], ...]:
    """(term name, value) of an event: source IP, country, user agent, endpoint (gateway
    events only), destination app, and with a GeoIP database the source IP's ASN and
    country; None where the event has none."""
    ocsf = e.ocsf
    src = ocsf.get("src_endpoint")
    loc = src.get("location") if isinstance(src, dict) else None
    req = ocsf.get("http_request")
    dst = ocsf.get("dst_endpoint")
    api = ocsf.get("api") if e.source == "ringfence" else None
    asn = ip_country = None
    if geoip is not None and e.src_ip:
        info = geoip.lookup(e.src_ip)
        asn, ip_country = info.asn, info.country
    return (
        ("source IP", e.src_ip),
        ("country", _leaf(loc.get("country")) if isinstance(loc, dict) else None),
        ("user agent", _leaf(req.get("user_agent")) if isinstance(req, dict) else None),
        ("endpoint", _leaf(api.get("operation")) if isinstance(api, dict) else None),
        ("destination app", _leaf(dst.get("hostname")) if isinstance(dst, dict) else None),
        ("ASN", asn),
        # the database's ISO code, a term of its own: vendors name countries their own way
        # (Okta "Germany", Entra "DE"), and mixing the two would make every change "new"
        ("IP country", ip_country),
    )


def _leaf(d: Any) -> str | None:
    """What ``_get`` returns for the value at the end of its path."""
    if type(d) is str:
        return d or None
    return str(d) if isinstance(d, str | int | float) and d != "" else None
