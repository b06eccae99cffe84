"""The rate-limit headers and verdicts built without their slow paths (remembered decimals, the
named tuple made without its Python ``__new__``) are the same as before, for any values."""

from __future__ import annotations

import random

import pytest
from limits import parse

from ringfence.gateway import stages
from ringfence.gateway.ratelimit import LimitDecision, _decision
from ringfence.gateway.stages import limit_headers


def _reference(d: LimitDecision, retry: bool) -> list[tuple[bytes, bytes]]:
    out = [
        (b"ratelimit-limit", b"%d" % d.limit),
        (b"ratelimit-remaining", b"%d" % d.remaining),
        (b"ratelimit-reset", b"%d" % d.reset_seconds),
    ]
    if retry:
        out.append((b"retry-after", b"%d" % d.reset_seconds))
    return out


def test_headers_are_the_formatted_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stages, "_DECIMALS", {})
    rng = random.Random(7)
    values = [0, 1, -1, 59, 60, 3600, 2**31, 2**63, -(10**20), True, False]
    for _ in range(5000):  # past the cache's bound: it starts again
        d = LimitDecision(
            rng.random() < 0.5,
            rng.choice([*values, rng.randrange(10**9)]),
            rng.randrange(-5, 10**9),
            rng.choice([*values, rng.randrange(10**6)]),
        )
        for retry in (False, True):
            assert limit_headers(d, retry) == _reference(d, retry), d
    assert len(stages._DECIMALS) <= 1024


def test_a_verdict_is_the_named_tuple_it_was() -> None:
    item = parse("5/minute")
    for count, ttl in [(1, 60), (5, 1), (6, 30), (100, -1), (3, 0)]:
        d = _decision(item, count, ttl)
        reset = ttl if ttl > 0 else item.get_expiry()
        assert type(d) is LimitDecision
        assert d == LimitDecision(count <= 5, 5, max(0, 5 - count), max(1, reset))
        assert d.allowed is (count <= 5) and d._asdict()["limit"] == 5
