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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ringfence.core.clock import Clock
from ringfence.monitor.alerts import AlertStore, Finding
from ringfence.monitor.events import Event
from ringfence.monitor.models import UebaState
from ringfence.store.db import Store

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


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


# term name → how to read it from an event
_TERMS: dict[str, Callable[[Event], str | None]] = {
    "source IP": lambda e: e.src_ip,
    "country": lambda e: _get(e.ocsf, "src_endpoint", "location", "country"),
    "user agent": lambda e: _get(e.ocsf, "http_request", "user_agent"),
    "endpoint": lambda e: _get(e.ocsf, "api", "operation") if e.source == "ringfence" else None,
    "destination app": lambda e: _get(e.ocsf, "dst_endpoint", "hostname"),
}


def _get(d: Any, *path: str) -> str | None:
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)
    return str(d) if isinstance(d, str | int | float) and d != "" else None


def robust_z(x: float, history: Sequence[float]) -> tuple[float, float, float]:
    """(z, median, MAD); MAD 0 falls back to the mean absolute deviation (then to 1)."""
    med = statistics.median(history)
    mad = statistics.median([abs(h - med) for h in history])
    if mad == 0:
        mean_ad = sum(abs(h - med) for h in history) / len(history)
        mad = mean_ad / 0.7979 if mean_ad else 1.0  # MeanAD → MAD-equivalent scale
    return 0.6745 * (x - med) / mad, med, mad


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


class Ueba:
    """An analyser (``Monitor`` calls ``analyse`` with new events)."""

    def __init__(
        self, store: Store, clock: Clock, alerts: AlertStore, config: UebaConfig | None = None
    ) -> None:
        self.store = store
        self.clock = clock
        self.alerts = alerts
        self.cfg = config or UebaConfig()
        self._cache: dict[tuple[str, str], dict[str, Any]] = {}
        self._dirty: set[tuple[str, str]] = set()

    # -- state ----------------------------------------------------------------------------
    def _state(self, entity: str, signal: str) -> dict[str, Any]:
        key = (entity, signal)
        st = self._cache.get(key)
        if st is None:
            with self.store.session() as s:
                row = s.get(UebaState, {"entity": entity[:400], "signal": signal})
                st = dict(row.state) if row is not None else {}
            self._cache[key] = st
        self._dirty.add(key)
        return st

    def _flush(self) -> None:
        """Upsert the touched baselines (last writer wins). One statement: two workers that
        create the same baseline at once no longer fail a batch on the primary key."""
        if not self._dirty:
            return
        now = self.clock.now()
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for entity, signal in sorted(self._dirty):  # stable order: no deadlock between workers
            rows[(entity[:400], signal)] = {
                "entity": entity[:400],
                "signal": signal,
                "state": dict(self._cache[(entity, signal)]),
                "updated_at": now,
            }
        insert = pg_insert if self.store.dialect == "postgresql" else sqlite_insert
        stmt = insert(UebaState)
        stmt = stmt.on_conflict_do_update(
            index_elements=["entity", "signal"],
            set_={"state": stmt.excluded.state, "updated_at": stmt.excluded.updated_at},
        )
        with self.store.session() as s:
            s.execute(stmt, list(rows.values()))
        self._dirty.clear()

    # -- analysis -------------------------------------------------------------------------
    def analyse(self, events: Sequence[Event]) -> None:
        findings: list[Finding] = []
        for e in sorted(events, key=lambda x: x.time):
            if not e.actor:
                continue
            profile = self._state(e.actor, "profile")
            ts = e.time.timestamp()
            first = profile.setdefault("first_seen", ts)
            profile["events"] = int(profile.get("events", 0)) + 1
            warm = (
                ts - float(first) >= self.cfg.warmup_days * 86400
                and profile["events"] > self.cfg.warmup_events
            )
            findings.extend(self._new_terms(e, warm))
            findings.extend(self._volume(e, warm))
            findings.extend(self._hour_of_week(e, warm))
            findings.extend(self._peers(e))
            if e.class_uid == 3002:
                findings.extend(self._travel(e))
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

    def _new_terms(self, e: Event, warm: bool) -> list[Finding]:
        out: list[Finding] = []
        st = self._state(e.actor or "?", "terms")
        ts = e.time.timestamp()
        horizon = ts - self.cfg.new_term_days * 86400
        for name, read in _TERMS.items():
            value = read(e)
            if value is None:
                continue
            seen: dict[str, float] = st.setdefault(name, {})
            last = seen.get(value)
            if (last is None or last < horizon) and warm and seen:
                known = sum(1 for t in seen.values() if t >= horizon)
            else:
                known = 0
            if known:
                out.append(
                    self._finding(
                        e,
                        f"new_{name.replace(' ', '_')}",
                        f"New {name} for {e.actor}",
                        f"{e.actor} used a new {name} {value}; {known} known in "
                        f"{self.cfg.new_term_days} days",
                        "medium" if name != "country" else "high",
                        value=value,
                        known=known,
                    )
                )
            seen[value] = ts
            if len(seen) > self.cfg.max_terms * 1.25:  # trim in chunks: amortised cost
                oldest = sorted(seen.items(), key=lambda kv: kv[1])
                for k, _ in oldest[: len(seen) - self.cfg.max_terms]:
                    del seen[k]
        return out

    def _volume(self, e: Event, warm: bool) -> list[Finding]:
        st = self._state(e.actor or "?", "hourly")
        hour = int(e.time.timestamp() // 3600)
        cur = st.get("hour")
        if cur is not None and hour > cur:
            hist: dict[str, list[float]] = st.setdefault("history", {})
            for metric in ("requests", "records"):
                h = hist.setdefault(metric, [])
                h.append(float(st.get(metric, 0)))
                # hours with no activity count as zeros, up to a week of them
                h.extend([0.0] * min(hour - cur - 1, 168))
                del h[:-336]
            st.update({"hour": hour, "requests": 0, "records": 0, "alerted": []})
        elif cur is None:
            st.update({"hour": hour, "requests": 0, "records": 0, "alerted": []})
        elif hour < cur:
            return []  # late event for a closed hour: counted nowhere, never alerts
        st["requests"] = int(st.get("requests", 0)) + 1
        records = _get(e.raw, "records") if e.source == "ringfence" else None
        st["records"] = int(st.get("records", 0)) + (int(float(records)) if records else 0)
        if not warm:
            return []
        out: list[Finding] = []
        for metric in ("requests", "records"):
            history = st.get("history", {}).get(metric, [])
            if len(history) < self.cfg.min_history_hours or metric in st["alerted"]:
                continue
            x = float(st[metric])
            z, med, _ = robust_z(x, history)
            if z > self.cfg.z_threshold and x > med + 10:
                st["alerted"].append(metric)
                verb = "made" if metric == "requests" else "read"
                out.append(
                    self._finding(
                        e,
                        f"volume_{metric}",
                        f"Unusual {metric} volume for {e.actor}",
                        f"{e.actor} {verb} {int(x):,} {metric} in 1 h; baseline median "
                        f"{med:,.0f}; robust z = {z:.1f}",
                        "high" if z > 2 * self.cfg.z_threshold else "medium",
                        value=x,
                        median=med,
                        z=round(z, 2),
                    )
                )
        return out

    def _hour_of_week(self, e: Event, warm: bool) -> list[Finding]:
        st = self._state(e.actor or "?", "hour_of_week")
        t = e.time.astimezone(UTC)
        slot = t.weekday() * 24 + t.hour
        bins: list[int] = st.setdefault("bins", [0] * 168)
        total = sum(bins)
        out: list[Finding] = []
        # Unusual = this hour of the week never used AND this hour of the day (any weekday)
        # under 1% of the history: a new weekday at the usual hours is not an anomaly.
        at_hour = sum(bins[d * 24 + t.hour] for d in range(7))
        if warm and total >= self.cfg.warmup_events and bins[slot] == 0 and at_hour < 0.01 * total:
            day = t.strftime("%Y-%m-%d")
            if st.get("alerted") != f"{day}:{slot}":
                st["alerted"] = f"{day}:{slot}"
                out.append(
                    self._finding(
                        e,
                        "unusual_hour",
                        f"{e.actor} active at an unusual hour",
                        f"{e.actor} active {_DAYS[t.weekday()]} {t.hour:02d}:00 UTC; 0 of "
                        f"{total:,} previous events in this hour of the week, {at_hour} at "
                        f"{t.hour:02d}:00 on any day",
                        "medium",
                        slot=slot,
                    )
                )
        bins[slot] += 1
        return out

    def _peers(self, e: Event) -> list[Finding]:
        """Peer-group comparison: when an hour closes, each entity's request count in it is
        compared with the other entities of the same source (integrations through the
        gateway, people in Okta ...): robust z over the peers, at least ``min_peers`` of them."""
        st = self._state(f"peers:{e.source}", "hourly")
        hour = int(e.time.timestamp() // 3600)
        cur = st.get("hour")
        out: list[Finding] = []
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
            return out
        counts = st["counts"]
        counts[e.actor or "?"] = int(counts.get(e.actor or "?", 0)) + 1
        return out

    def _travel(self, e: Event) -> list[Finding]:
        coords = (e.ocsf.get("src_endpoint") or {}).get("location", {}).get("coordinates")
        if not (isinstance(coords, list) and len(coords) == 2):
            return []
        lon, lat = coords
        if not isinstance(lat, int | float) or not isinstance(lon, int | float):
            return []
        st = self._state(e.actor or "?", "travel")
        last = st.get("last")
        st["last"] = {
            "t": e.time.timestamp(),
            "lat": lat,
            "lon": lon,
            "ip": e.src_ip,
            "where": _get(e.ocsf, "src_endpoint", "location", "city") or e.src_ip,
        }
        if not last or e.src_ip == last.get("ip"):
            return []
        km = haversine_km(last["lat"], last["lon"], lat, lon)
        hours = max((e.time.timestamp() - last["t"]) / 3600, 1 / 60)
        kmh = km / hours
        if km < self.cfg.min_travel_km or kmh <= self.cfg.max_kmh:
            return []
        here = st["last"]["where"]
        minutes = (e.time.timestamp() - last["t"]) / 60
        return [
            self._finding(
                e,
                "impossible_travel",
                f"Impossible travel for {e.actor}",
                f"{e.actor} signed in from {last['where']} and {here} {minutes:.0f} min apart: "
                f"{km:,.0f} km, {kmh:,.0f} km/h",
                "high",
                km=round(km),
                kmh=round(kmh),
            )
        ]
