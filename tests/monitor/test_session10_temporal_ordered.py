"""temporal_ordered correlations cost O(rules) per match and hold O(rules) state per group.

Before, a group kept every match of its timespan and re-ran the ordered-subsequence check over
all of them on each new match: a credential-stuffing burst (thousands of one user's sign-ins
before the account's MFA was switched off) cost quadratic time in the monitor and memory
without bound within the timespan."""

from __future__ import annotations

import time
from datetime import timedelta

from tests.monitor.test_sigma import T0, corr, ev, feed

ORDERED = """title: takeover
name: takeover
correlation: {type: temporal_ordered, rules: [success_login, mfa_off], group-by: [user],
              timespan: 1h}"""

LOGIN = {"outcome": "success", "user": "victim"}
MFA_OFF = {"op": "mfa_disable", "user": "victim"}
FAIL = {"outcome": "failure", "user": "victim"}


def test_a_long_run_of_first_matches_is_linear_and_bounded() -> None:
    rs = corr(ORDERED)
    (c,) = rs.correlations
    events = [ev(LOGIN, t=T0 + timedelta(milliseconds=100 * i), i=i) for i in range(20_000)]
    started = time.perf_counter()
    assert [d for d in rs.evaluate(events) if d.kind == "correlation"] == []
    elapsed = time.perf_counter() - started
    assert elapsed < 3.0, f"{elapsed:.2f} s for 20,000 matches"  # before: minutes (quadratic)
    (state,) = c._windows.values()
    assert len(state) <= 2  # one partial match per rule, not 20,000 events
    last = ev(MFA_OFF, t=T0 + timedelta(milliseconds=100 * 20_000), i=20_000)
    (hit,) = [d for d in rs.evaluate([last]) if d.kind == "correlation"]
    assert hit.rule_key == "takeover"
    assert c.groups == 0


def test_order_and_timespan_still_decide() -> None:
    # in order within the timespan
    assert feed(corr(ORDERED), [(0, LOGIN), (60, MFA_OFF)]) == ["takeover"]
    # wrong order
    assert feed(corr(ORDERED), [(0, MFA_OFF), (60, LOGIN)]) == []
    # too far apart
    assert feed(corr(ORDERED), [(0, LOGIN), (3700, MFA_OFF)]) == []
    # an old first match expired, a later one still starts the sequence
    assert feed(corr(ORDERED), [(0, LOGIN), (3000, LOGIN), (3700, MFA_OFF)]) == ["takeover"]
    # matches of other rules in between do not break the sequence
    assert feed(corr(ORDERED), [(0, LOGIN), (10, FAIL), (20, MFA_OFF)]) == ["takeover"]
    # another user's events do not complete this user's sequence
    other = {"op": "mfa_disable", "user": "eve"}
    assert feed(corr(ORDERED), [(0, LOGIN), (60, other)]) == []
    # it fires once; the group then starts again
    raws = [(0, LOGIN), (1, MFA_OFF), (2, MFA_OFF), (3, LOGIN), (4, MFA_OFF)]
    assert feed(corr(ORDERED), raws) == ["takeover", "takeover"]


def test_three_rules_and_a_repeated_rule() -> None:
    three = """title: chain
name: chain
correlation: {type: temporal_ordered, rules: [failed_login, success_login, mfa_off],
              group-by: [user], timespan: 10m}"""
    assert feed(corr(three), [(0, FAIL), (10, LOGIN), (20, MFA_OFF)]) == ["chain"]
    assert feed(corr(three), [(0, LOGIN), (10, FAIL), (20, MFA_OFF)]) == []
    assert feed(corr(three), [(0, FAIL), (10, MFA_OFF), (20, LOGIN)]) == []
    # the whole chain must lie within the timespan: the failure at 0 is too old at 700
    assert feed(corr(three), [(0, FAIL), (300, LOGIN), (700, MFA_OFF)]) == []
    assert feed(corr(three), [(0, FAIL), (200, FAIL), (300, LOGIN), (700, MFA_OFF)]) == ["chain"]
    twice = """title: twice
name: twice
correlation: {type: temporal_ordered, rules: [success_login, success_login, mfa_off],
              group-by: [user], timespan: 10m}"""
    # one sign-in cannot stand for both places of the repeated rule
    assert feed(corr(twice), [(0, LOGIN), (10, MFA_OFF)]) == []
    assert feed(corr(twice), [(0, LOGIN), (5, LOGIN), (10, MFA_OFF)]) == ["twice"]


def test_the_hit_names_the_events_of_the_sequence() -> None:
    rs = corr(ORDERED)
    raws = [(0, LOGIN), (10, FAIL), (20, LOGIN), (30, MFA_OFF)]
    events = [ev(r, t=T0 + timedelta(seconds=s), i=n) for n, (s, r) in enumerate(raws)]
    (hit,) = [d for d in rs.evaluate(events) if d.kind == "correlation"]
    # the latest-starting sequence: the second sign-in, then the MFA change
    assert hit.events == [events[2], events[3]]
    assert "2 rules matched in order for user=victim" in hit.sentence
