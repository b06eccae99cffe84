"""Runs the test cases embedded in rules (``x_tests``): each rule carries records that must
match and records that must not, written as patches onto realistic vendor baselines.

Case shapes::

    x_tests:
      - {name: ..., match: true, source: okta, record: {eventType: ...}}
      - name: burst
        match: true
        events:                       # correlation rules: a sequence of records
          - {source: ringfence, record: {status: 403}, repeat: 25, every: 1s}

A case that cannot be built (unknown source, record the parser rejects) is a failed case with
the reason, never an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ringfence.monitor.events import Event
from ringfence.monitor.parsers import RecordError, parser_for
from ringfence.monitor.samples import PARSER_SOURCE, sample
from ringfence.monitor.sigma.engine import RuleSet

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")


@dataclass
class CaseResult:
    rule: str
    case: str
    expected: bool
    actual: bool | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.actual == self.expected


@dataclass
class RuleTestReport:
    results: list[CaseResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    untested: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(r.ok for r in self.results)


def _seconds(spec: Any) -> float:
    if isinstance(spec, int | float):
        return float(spec)
    m = _DURATION.match(str(spec).strip())
    if not m:
        raise ValueError(f"bad duration {spec!r} (use 500ms, 1s, 5m, 1h)")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def build_events(spec: dict[str, Any], counter: list[int]) -> list[Event]:
    source = str(spec.get("source", ""))
    record = sample(source, spec.get("record") or {})
    parse = parser_for(PARSER_SOURCE.get(source, source))
    repeat = int(spec.get("repeat", 1))
    every = _seconds(spec.get("every", 1))
    out: list[Event] = []
    for i in range(repeat):
        for e in parse(record):
            counter[0] += 1
            e.id = f"{e.id}-{counter[0]}"
            e.time = e.time + timedelta(seconds=every * i + float(spec.get("offset", 0)))
            out.append(e)
    return out


def run_rule_tests(rs: RuleSet, only_origin: str | None = None) -> RuleTestReport:
    report = RuleTestReport()
    report.problems = [
        f"{p.rule}: {p.message}" for p in rs.problems if only_origin in (None, p.origin)
    ]
    for r in rs.rules:
        if only_origin not in (None, r.origin):
            continue
        if not r.tests:
            report.untested.append(r.title)
        for n, case in enumerate(r.tests):
            name = str(case.get("name", f"case {n + 1}")) if isinstance(case, dict) else str(n)
            expected = bool(case.get("match")) if isinstance(case, dict) else True
            try:
                if not isinstance(case, dict):
                    raise ValueError("a test case must be a mapping")
                events = build_events(case, [0])
                actual = any(r.matches(e) for e in events)
                report.results.append(CaseResult(r.title, name, expected, actual))
            except (RecordError, KeyError, ValueError, TypeError) as exc:
                report.results.append(CaseResult(r.title, name, expected, None, str(exc)))
    for c in rs.correlations:
        if only_origin not in (None, c.origin):
            continue
        cases: list[Any] = c.tests
        if not cases:
            report.untested.append(c.title)
        for n, case in enumerate(cases):
            name = str(case.get("name", f"case {n + 1}")) if isinstance(case, dict) else str(n)
            expected = bool(case.get("match")) if isinstance(case, dict) else True
            try:
                if not isinstance(case, dict) or not isinstance(case.get("events"), list):
                    raise ValueError("a correlation test case needs an 'events' list")
                counter = [0]
                events = [e for spec in case["events"] for e in build_events(spec, counter)]
                events.sort(key=lambda e: e.time)
                c.reset()
                detections = rs.evaluate(events)
                c.reset()
                actual = any(d.kind == "correlation" and d.rule_key == c.key for d in detections)
                report.results.append(CaseResult(c.title, name, expected, actual))
            except (RecordError, KeyError, ValueError, TypeError) as exc:
                report.results.append(CaseResult(c.title, name, expected, None, str(exc)))
    return report
