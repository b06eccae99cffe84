"""The per-event UEBA of session 4 (d8112ea), frozen: the reference the batched
``Ueba.analyse`` must agree with, finding for finding and state for state.

Copied verbatim from ``ringfence.monitor.ueba`` before the batched rewrite; only the class
around it is new. Not used by Ringfence itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from ringfence.monitor.alerts import Finding
from ringfence.monitor.events import Event
from ringfence.monitor.ueba import _DAYS, Ueba, _get, robust_z

_TERMS: dict[str, Callable[[Event], str | None]] = {
    "source IP": lambda e: e.src_ip,
    "country": lambda e: _get(e.ocsf, "src_endpoint", "location", "country"),
    "user agent": lambda e: _get(e.ocsf, "http_request", "user_agent"),
    "endpoint": lambda e: _get(e.ocsf, "api", "operation") if e.source == "ringfence" else None,
    "destination app": lambda e: _get(e.ocsf, "dst_endpoint", "hostname"),
}


class ReferenceUeba(Ueba):
    """One event at a time, every state looked up per event and signal."""

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
            return self._late(e, warm, st, hour, cur)  # (session 12: was counted nowhere)
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

    def _late(self, e: Event, warm: bool, st: dict[str, Any], hour: int, cur: int) -> list[Finding]:
        """Session 12: a late event counts in its closed hour's history slot (when the history
        still holds it) and that hour is checked again, once per hour and metric. Written
        plainly, per event, as the rest of this reference."""
        back = cur - hour
        hist = st.get("history")
        if not isinstance(hist, dict):
            return []
        records = _get(e.raw, "records") if e.source == "ringfence" else None
        amounts = {"requests": 1, "records": int(float(records)) if records else 0}
        counted = False
        for metric, amount in amounts.items():
            h = hist.get(metric)
            if isinstance(h, list) and back <= len(h):
                h[-back] = float(h[-back]) + amount
                counted = True
        if not counted or not warm:
            return []
        out: list[Finding] = []
        alerted: list[str] = st.setdefault("late_alerted", [])
        for metric in amounts:
            history = hist.get(metric, [])
            if len(history) < self.cfg.min_history_hours or f"{hour}:{metric}" in alerted:
                continue
            x = float(history[-back])
            z, med, _ = robust_z(x, history)
            if z > self.cfg.z_threshold and x > med + 10:
                alerted.append(f"{hour}:{metric}")
                del alerted[:-48]
                verb = "made" if metric == "requests" else "read"
                out.append(
                    self._finding(
                        e,
                        f"volume_{metric}",
                        f"Unusual {metric} volume for {e.actor}",
                        f"{e.actor} {verb} {int(x):,} {metric} in the hour from "
                        f"{datetime.fromtimestamp(hour * 3600, UTC):%Y-%m-%d %H:00} UTC "
                        f"(reported late); baseline median {med:,.0f}; robust z = {z:.1f}",
                        "high" if z > 2 * self.cfg.z_threshold else "medium",
                        value=x,
                        median=med,
                        z=round(z, 2),
                        late=True,
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
