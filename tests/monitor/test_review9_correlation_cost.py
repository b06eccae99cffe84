"""Review 9: value_count correlations cost O(1) per match and hold bounded state (before: the
distinct values of the whole window were recounted on every match — 8,000 failed sign-ins of
one user took 3.5 s — and one-off group keys were kept forever with their events)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from ringfence.monitor.sigma import correlation
from tests.monitor.test_sigma import T0, corr, ev, feed

SPRAY = """title: spray
name: spray
correlation: {type: value_count, rules: [failed_login], group-by: [ip], timespan: 1h,
              condition: {gte: 50, field: user}}"""


def test_many_failures_of_one_user_are_linear_and_hold_one_entry() -> None:
    rs = corr(SPRAY)
    (c,) = rs.correlations
    f = {"outcome": "failure", "ip": "1.1.1.1", "user": "victim"}
    events = [ev(f, t=T0 + timedelta(milliseconds=50 * i), i=i) for i in range(20_000)]
    started = time.perf_counter()
    assert [d for d in rs.evaluate(events) if d.kind == "correlation"] == []
    elapsed = time.perf_counter() - started
    assert elapsed < 3.0, f"{elapsed:.2f} s for 20,000 matches"  # before: ~20 s (quadratic)
    (window,) = c._windows.values()
    assert len(window) == 1  # the latest match of the one value, not 20,000 events


def test_value_count_still_counts_distinct_values_in_the_window() -> None:
    raws = [(i, {"outcome": "failure", "ip": "1.1.1.1", "user": f"u{i % 60}"}) for i in range(60)]
    assert feed(corr(SPRAY), raws) == ["spray"]
    # the same 49 users again and again never reach 50 distinct
    raws = [(i, {"outcome": "failure", "ip": "1.1.1.1", "user": f"u{i % 49}"}) for i in range(500)]
    assert feed(corr(SPRAY), raws) == []
    # values that left the window no longer count
    raws = [(i * 100, {"outcome": "failure", "ip": "1.1.1.1", "user": f"u{i}"}) for i in range(60)]
    assert feed(corr(SPRAY), raws) == []


def test_fired_groups_are_freed_and_one_off_groups_are_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rs = corr(SPRAY)
    (c,) = rs.correlations
    burst = [(i, {"outcome": "failure", "ip": "9.9.9.9", "user": f"u{i}"}) for i in range(50)]
    assert feed(rs, burst) == ["spray"]
    assert c.groups == 0  # fired: nothing held for 9.9.9.9
    monkeypatch.setattr(correlation, "MAX_GROUPS", 100)
    one_offs = [
        (i, {"outcome": "failure", "ip": f"10.0.{i // 256}.{i % 256}", "user": "x"})
        for i in range(1000)
    ]
    feed(rs, one_offs)
    assert c.groups == 100  # the least recently matched were dropped
