"""API monitoring of the gateway's own traffic, per route: error rate, 5xx and 401/403
bursts, latency regression, upstream down.

Windows slide on event time (``window``); each signal fires once per route per window and the
alert store de-duplicates further findings. Every finding says what was measured against what
("route hubspot-contacts: 42 of 60 requests failed with 5xx in 60 s (70%)"). Only gateway
events (source ``ringfence``) are considered; never raises on an odd event.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ringfence.core.clock import Clock
from ringfence.monitor.alerts import AlertStore, Finding
from ringfence.monitor.events import Event


@dataclass
class ApiMonitorConfig:
    window: timedelta = timedelta(seconds=60)
    min_requests: int = 20
    error_rate: float = 0.5
    auth_burst: int = 30
    upstream_down_consecutive: int = 10
    latency_factor: float = 3.0
    latency_min_ms: float = 200.0
    baseline_alpha: float = 0.05
    # A request dated more than this many seconds after the server's clock is counted in
    # ``ApiMonitor.future_events`` and nowhere else: one record from next month would move a
    # route's window ahead and every real request after it would be "too late".
    max_future_skew: float = 600.0


@dataclass
class _Route:
    window: deque[tuple[datetime, int, float]] = field(default_factory=deque)
    n5: int = 0  # 5xx in the window
    n4: int = 0  # 401/403 in the window
    newest: datetime | None = None
    consecutive_5xx: int = 0
    baseline_ms: float | None = None
    fired: dict[str, datetime] = field(default_factory=dict)

    def copy(self) -> _Route:
        return _Route(
            deque(self.window),
            self.n5,
            self.n4,
            self.newest,
            self.consecutive_5xx,
            self.baseline_ms,
            dict(self.fired),
        )


class ApiMonitor:
    def __init__(
        self,
        alerts: AlertStore,
        config: ApiMonitorConfig | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.alerts = alerts
        self.cfg = config or ApiMonitorConfig()
        self.clock = clock or alerts.clock
        self._routes: dict[str, _Route] = {}
        self.future_events = 0  # ignored: dated past the clock + max_future_skew
        # while a batch is analysed: each route as it was before the batch touched it
        self._undo: dict[str, _Route | None] | None = None

    def checkpoint(self) -> None:
        """Journal the routes' windows from now on; ``rollback`` returns them to now."""
        self._undo = {}

    def commit(self) -> None:
        self._undo = None

    def rollback(self) -> None:
        """Forget the requests observed since ``checkpoint``: their batch's transaction failed
        and it is delivered again (counted twice, a window would fire early or, having fired,
        stay quiet on the redelivery)."""
        undo, self._undo = self._undo, None
        for name, saved in (undo or {}).items():
            if saved is None:
                self._routes.pop(name, None)
            else:
                self._routes[name] = saved

    def analyse(self, events: Sequence[Event]) -> None:
        findings: list[Finding] = []
        latest = self.clock.now() + timedelta(seconds=self.cfg.max_future_skew)
        for e in events:
            if e.source != "ringfence":
                continue
            if e.time > latest:
                self.future_events += 1  # never moves a route's window
                continue
            findings.extend(self.observe(e))
        if findings:
            self.alerts.raise_findings(findings)

    def observe(self, e: Event) -> list[Finding]:
        raw = e.raw
        status = raw.get("status")
        if not isinstance(status, int):
            return []
        route_name = str(raw.get("route") or raw.get("path_template") or raw.get("path") or "?")
        latency = raw.get("latency_ms")
        lat = float(latency) if isinstance(latency, int | float) else 0.0
        if self._undo is not None and route_name not in self._undo:
            before = self._routes.get(route_name)
            self._undo[route_name] = None if before is None else before.copy()
        r = self._routes.setdefault(route_name, _Route())
        if r.newest is not None and e.time < r.newest - self.cfg.window:
            return []  # too late for the window: counted nowhere
        r.newest = e.time if r.newest is None or e.time > r.newest else r.newest
        r.window.append((e.time, status, lat))
        r.n5 += status >= 500
        r.n4 += status in (401, 403)
        horizon = r.newest - self.cfg.window
        while r.window and r.window[0][0] < horizon:
            _, old, _ = r.window.popleft()
            r.n5 -= old >= 500
            r.n4 -= old in (401, 403)
        r.consecutive_5xx = r.consecutive_5xx + 1 if status >= 500 else 0
        out: list[Finding] = []
        n, n5, n4 = len(r.window), r.n5, r.n4
        secs = int(self.cfg.window.total_seconds())
        if n >= self.cfg.min_requests and n5 / n >= self.cfg.error_rate:
            out += self._fire(
                r,
                e,
                route_name,
                "error_rate",
                "high",
                f"route {route_name}: {n5} of {n} requests failed with 5xx in "
                f"{secs} s ({100 * n5 / n:.0f}%)",
            )
        if n4 >= self.cfg.auth_burst:
            out += self._fire(
                r,
                e,
                route_name,
                "auth_burst",
                "high",
                f"route {route_name}: {n4} requests refused with 401/403 in {secs} s",
            )
        if r.consecutive_5xx >= self.cfg.upstream_down_consecutive:
            upstream = raw.get("upstream") or "upstream"
            out += self._fire(
                r,
                e,
                route_name,
                "upstream_down",
                "critical",
                f"route {route_name}: {upstream} failed {r.consecutive_5xx} requests in a row",
            )
        slow = r.baseline_ms is not None and lat > self.cfg.latency_factor * r.baseline_ms
        fired = r.fired.get("latency")
        if fired is not None and e.time - fired < self.cfg.window:
            slow = False  # already reported for this window
        if status < 400 and lat > 0 and slow:
            # the window's p95 is only computed when this request itself is slow
            ok = sorted(x for _, s, x in r.window if s < 400 and x > 0)
            if len(ok) >= self.cfg.min_requests and r.baseline_ms is not None:
                p95 = ok[min(len(ok) - 1, int(0.95 * len(ok)))]
                if p95 > max(self.cfg.latency_min_ms, self.cfg.latency_factor * r.baseline_ms):
                    out += self._fire(
                        r,
                        e,
                        route_name,
                        "latency",
                        "medium",
                        f"route {route_name}: p95 latency {p95:.0f} ms over {secs} s; "
                        f"baseline {r.baseline_ms:.0f} ms ({p95 / r.baseline_ms:.1f}x)",
                    )
        if status < 400 and lat > 0:
            a = self.cfg.baseline_alpha
            # the baseline learns slowly and not from the regression it is meant to catch
            if r.baseline_ms is None:
                r.baseline_ms = lat
            elif lat < self.cfg.latency_factor * r.baseline_ms:
                r.baseline_ms = (1 - a) * r.baseline_ms + a * lat
        return out

    def _fire(
        self, r: _Route, e: Event, route: str, signal: str, sev: str, sentence: str
    ) -> list[Finding]:
        last = r.fired.get(signal)
        if last is not None and e.time - last < self.cfg.window:
            return []
        r.fired[signal] = e.time
        return [
            Finding(
                rule_key=f"apimon:{signal}",
                title=f"API monitoring: {signal.replace('_', ' ')} on {route}",
                severity=sev,
                kind="apimon",
                entity=f"route:{route}",
                sentence=sentence,
                time=e.time,
                events=[e],
                tags=["apimon", signal],
                extra={"route": route, "signal": signal},
            )
        ]
