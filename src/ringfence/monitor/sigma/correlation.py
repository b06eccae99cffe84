"""Streaming evaluation of Sigma correlation rules over base-rule matches.

Supported: ``event_count`` and ``value_count`` (conditions gt/gte/eq), ``temporal`` (the
referenced rules all — or ``condition`` many of them — matched for the group within the
timespan) and ``temporal_ordered`` (they matched in the listed order). Windows slide on event
time per ``group-by`` key; a group's window is cleared when the correlation fires, so a burst
raises one alert, not one per further event. Upper-bound conditions (lt/lte/neq) need the end of
a window and the value_sum/avg/percentile/median types are reported as unsupported.

Cost and memory per observed match are bounded: ``value_count`` and ``temporal`` keep, per
group, the latest match of each distinct value (or rule) in arrival order — the measure is the
number of those, kept up to date as matches arrive and expire, never recounted over the
window — so a group holds at most as many matches as the condition counts before it fires.
``temporal_ordered`` keeps, per group and per position in the rule list, the latest-starting
partial sequence that reaches that position (its start time and its events), extended as
matches arrive — O(rules) per match and per group, however many matches the timespan holds.
A group's state is freed when it fires; the groups of a correlation are bounded
(``MAX_GROUPS``, least recently matched dropped first), so one-off group keys (a sprayed IP,
a throwaway user name) do not accumulate forever with their events.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)

from ringfence.monitor.events import Event
from ringfence.monitor.sigma.compiler import Unsupported
from ringfence.monitor.sigma.fields import Getter, getter

# Groups kept per correlation; the least recently matched is dropped beyond it.
MAX_GROUPS = 10_000

_FIRING_OPS = {
    SigmaCorrelationConditionOperator.GT: lambda n, c: n > c,
    SigmaCorrelationConditionOperator.GTE: lambda n, c: n >= c,
    SigmaCorrelationConditionOperator.EQ: lambda n, c: n == c,
}


@dataclass
class CorrelationHit:
    correlation: CompiledCorrelation
    group: tuple[str, ...]
    events: list[Event]
    value: float

    @property
    def sentence(self) -> str:
        c = self.correlation
        who = ", ".join(f"{f}={v}" for f, v in zip(c.group_by, self.group, strict=False)) or "all"
        kind = {
            "event_count": f"{int(self.value)} matching events",
            "value_count": f"{int(self.value)} distinct {c.value_field}",
            "temporal": f"{int(self.value)} of {len(c.rule_keys)} rules matched",
            "temporal_ordered": f"{len(c.rule_keys)} rules matched in order",
        }[c.kind]
        return f"{kind} for {who} within {c.timespan_spec}"


@dataclass
class _Entry:
    time: datetime
    rule_key: str
    value: str | None
    event: Event


class _Ordered:
    """temporal_ordered state of one group: for each position ``i`` of the rule list, the
    partial sequence matching rules ``0..i`` in arrival order that started latest (``starts[i]``,
    the time of its first match; ``runs[i]``, its events). A later start stays inside the
    timespan longest, so it is the only one worth keeping."""

    __slots__ = ("runs", "starts")

    def __init__(self, n: int) -> None:
        self.starts: list[datetime | None] = [None] * n
        self.runs: list[tuple[Event, ...]] = [()] * n

    def __len__(self) -> int:
        return sum(s is not None for s in self.starts)

    def advance(
        self, rule_keys: list[str], rule_key: str, event: Event, horizon: datetime
    ) -> tuple[Event, ...] | None:
        """Extend by one match of ``rule_key``; the whole sequence's events when this match
        completes one whose first match is at or after ``horizon``."""
        starts, runs = self.starts, self.runs
        last = len(rule_keys) - 1
        done: tuple[Event, ...] | None = None
        # from the end, so one match never fills two positions of a repeated rule
        for i in range(last, -1, -1):
            if rule_keys[i] != rule_key:
                continue
            if i == 0:
                start: datetime | None = event.time
                run: tuple[Event, ...] = (event,)
            else:
                start = starts[i - 1]
                if start is None or start < horizon:
                    continue
                run = (*runs[i - 1], event)
            assert start is not None
            if i == last:
                done = run
                continue
            kept = starts[i]
            if kept is None or kept < horizon or start >= kept:
                starts[i], runs[i] = start, run
        return done


@dataclass
class CompiledCorrelation:
    key: str
    title: str
    level: str
    kind: str
    rule_keys: list[str]
    group_by: list[str]
    timespan: timedelta
    timespan_spec: str
    op: Any
    count: float
    value_field: str | None
    generate: bool
    rule: SigmaCorrelationRule
    # per referenced rule key: getters of the group-by fields and of the counted field
    group_getters: dict[str, list[Getter]] = field(default_factory=dict)
    value_getters: dict[str, Getter] = field(default_factory=dict)
    tests: list[Any] = field(default_factory=list)
    origin: str = ""
    # event_count: the group's matches in arrival order; value_count / temporal: the latest
    # match per distinct value / rule key, least recent first; temporal_ordered: _Ordered
    _windows: OrderedDict[tuple[str, ...], deque[_Entry] | OrderedDict[str, _Entry] | _Ordered] = (
        field(default_factory=OrderedDict)
    )

    # while a batch is analysed (``checkpoint`` .. ``commit``/``rollback``): each group's
    # window as it was before the batch first touched it (None: the group had none)
    _undo: dict[tuple[str, ...], Any] | None = None

    def reset(self) -> None:
        self._windows.clear()

    def checkpoint(self) -> None:
        """Start journaling: a ``rollback`` returns every group to its state of now."""
        self._undo = {}

    def commit(self) -> None:
        self._undo = None

    def rollback(self) -> None:
        """Undo the matches observed since ``checkpoint``: a batch whose transaction failed is
        delivered again, and counting its events twice would fire early (or, where it fired
        and cleared the group, not at all on the redelivery)."""
        undo, self._undo = self._undo, None
        if not undo:
            return
        for key, saved in undo.items():
            if saved is None:
                self._windows.pop(key, None)
            else:
                self._windows[key] = saved

    def _journal(self, key: tuple[str, ...]) -> None:
        undo = self._undo
        if undo is not None and key not in undo:
            undo[key] = _copy_window(self._windows.get(key))

    @property
    def groups(self) -> int:
        """How many group keys hold state."""
        return len(self._windows)

    def observe(self, rule_key: str, event: Event, view: Any) -> CorrelationHit | None:
        group = tuple(_first_text(g(view)) for g in self.group_getters[rule_key])
        if any(v is None for v in group):
            return None  # events without the group-by values do not correlate
        key = tuple(str(v) for v in group)
        value = None
        if self.value_field is not None:
            value = _first_text(self.value_getters[rule_key](view))
            if value is None:
                return None
        entry = _Entry(event.time, rule_key, value, event)
        horizon = event.time - self.timespan
        windows = self._windows
        if self._undo is not None:
            self._journal(key)
        window = windows.get(key)
        if window is None:
            if len(windows) >= MAX_GROUPS:
                if self._undo is not None:
                    self._journal(next(iter(windows)))
                windows.popitem(last=False)  # the least recently matched group
            window = windows[key] = (
                OrderedDict()
                if self.kind in ("value_count", "temporal")
                else _Ordered(len(self.rule_keys))
                if self.kind == "temporal_ordered"
                else deque()
            )
        else:
            windows.move_to_end(key)
        if isinstance(window, _Ordered):
            run = window.advance(self.rule_keys, rule_key, event, horizon)
            if run is None:
                return None
            del windows[key]  # fired: the group starts again with nothing held
            return CorrelationHit(self, key, list(run), float(len(self.rule_keys)))
        if isinstance(window, OrderedDict):
            # one entry per distinct value (rule): the latest, moved to the end
            distinct = rule_key if value is None else value  # temporal: no counted field
            window.pop(distinct, None)
            window[distinct] = entry
            while window and next(iter(window.values())).time < horizon:
                window.popitem(last=False)
            measured = float(len(window))
        else:
            window.append(entry)
            while window and window[0].time < horizon:
                window.popleft()
            measured = float(len(window))
        if not _FIRING_OPS[self.op](measured, self.count):
            return None
        entries = window.values() if isinstance(window, OrderedDict) else window
        hit = CorrelationHit(self, key, [e.event for e in entries], measured)
        del windows[key]  # fired: the group starts again with nothing held
        return hit


def _copy_window(window: Any) -> Any:
    """A copy of a group's window that later matches do not change (entries and event tuples
    are never changed in place, so a shallow copy is enough)."""
    if window is None:
        return None
    if isinstance(window, _Ordered):
        copy = _Ordered(len(window.starts))
        copy.starts, copy.runs = list(window.starts), list(window.runs)
        return copy
    if isinstance(window, OrderedDict):
        return OrderedDict(window)
    return deque(window)


def _first_text(values: list[Any]) -> str | None:
    for v in values:
        if isinstance(v, str | int | float) and not isinstance(v, bool):
            return str(v)
    return None


def compile_correlation(
    rule: SigmaCorrelationRule, key: str, rule_keys: list[str], products: dict[str, str | None]
) -> CompiledCorrelation:
    """``rule_keys``: our keys of the referenced rules, in the rule's order."""
    kinds = {
        SigmaCorrelationType.EVENT_COUNT: "event_count",
        SigmaCorrelationType.VALUE_COUNT: "value_count",
        SigmaCorrelationType.TEMPORAL: "temporal",
        SigmaCorrelationType.TEMPORAL_ORDERED: "temporal_ordered",
    }
    if rule.type not in kinds:
        raise Unsupported(f"correlation type {rule.type.name.lower()}")
    cond = rule.condition
    if not isinstance(cond, SigmaCorrelationCondition):
        raise Unsupported("extended (boolean) correlation conditions")
    if rule.type is not SigmaCorrelationType.TEMPORAL_ORDERED and cond.op not in _FIRING_OPS:
        raise Unsupported(
            f"correlation condition {cond.op.name.lower()} (needs end-of-window evaluation)"
        )
    value_field = cond.fieldref if isinstance(cond.fieldref, str) else None
    if cond.fieldref is not None and value_field is None:
        raise Unsupported("a list of fields in the correlation condition")
    group_by = list(rule.group_by or [])
    c = CompiledCorrelation(
        key=key,
        title=rule.title,
        level=str(rule.level.name.lower()) if rule.level else "medium",
        kind=kinds[rule.type],
        rule_keys=rule_keys,
        group_by=group_by,
        timespan=timedelta(seconds=rule.timespan.seconds),
        timespan_spec=rule.timespan.spec,
        op=cond.op,
        count=float(cond.count),
        value_field=value_field,
        generate=bool(rule.generate),
        rule=rule,
    )
    aliases = {a.alias: a for a in rule.aliases}
    refs = list(rule.rules or [])
    for ref, rk in zip(refs, rule_keys, strict=True):
        product = products.get(rk)

        def field_for(name: str, ref: Any = ref) -> str:
            alias = aliases.get(name)
            if alias is None:
                return name
            for r, f in alias.mapping.items():
                if r.reference == ref.reference:
                    return f
            raise Unsupported(f"alias {name!r} has no field for rule {ref.reference!r}")

        c.group_getters[rk] = [getter(product, field_for(g)) for g in group_by]
        if value_field:
            c.value_getters[rk] = getter(product, field_for(value_field))
    return c
