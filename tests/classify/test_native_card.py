"""``_native.card_starts`` reports exactly what a Hyperscan scan of the card pattern reports.

The prefilter finds the built-in card pattern's starts natively (for every end of a match, the
leftmost start of a match ending there, as Hyperscan's start-of-match mode gives them) instead
of scanning a database of its own. Held here to that database on digit runs at and around the
pattern's bounds, separators, word characters and non-ASCII bytes around them, generated and
arbitrary bytes, and the corpora; the prefilter's tiers to the single database of everything.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ringfence.classify import Classifier
from ringfence.classify import _prefilter as pf
from ringfence.classify._accel import NATIVE
from ringfence.classify._pii import CARD_PATTERN
from tests.classify.corpus import payload, typical_payload

hs = pytest.importorskip("hyperscan")
pytestmark = pytest.mark.skipif(NATIVE is None, reason="native extension not built")
ID = 7


@pytest.fixture(scope="module")
def db() -> object:
    d = hs.Database()
    d.compile(expressions=[CARD_PATTERN.encode()], ids=[ID], flags=[hs.HS_FLAG_SOM_LEFTMOST])
    return d


def by_hyperscan(db: object, data: bytes) -> dict[int, set[int]]:
    found: dict[int, set[int]] = {}

    def on_match(pid: int, start: int, end: int, flags: int, ctx: object) -> None:
        found.setdefault(pid, set()).add(start)

    db.scan(data, match_event_handler=on_match)  # type: ignore[attr-defined]
    return found


def by_native(data: bytes) -> dict[int, set[int]]:
    assert NATIVE is not None
    found: dict[int, set[int]] = {}
    NATIVE.card_starts(data, found, ID)
    return found


EDGES = [
    b"",
    b"4111111111111111",
    b"411111111111",  # 12 digits
    b"4111111111111",  # 13
    b"4" * 19,
    b"4" * 20,
    b"4" * 45,
    b"4111 1111 1111 1111",
    b"4111-1111-1111-1111",
    b"4111 - 1111 1111 1111",
    b"4111  1111 1111 1111",
    b"+55 11 96123-5515",
    b"a4111111111111111",
    b"_4111111111111111",
    b"4111111111111111a",
    b"4111111111111111_",
    b"\xe94111111111111111\xe9",
    b"1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1",
    b"1-2-3-4-5-6-7-8-9-0-1-2-3",
    b"x 1234567890123 y 12345678901234567890123 z",
    b"12345678901234 1",
    b"1 12345678901234",
    b"-1234567890123-",
    b" 1234567890123\n\x00\n9876543210987 ",
]


@pytest.mark.parametrize("data", EDGES)
def test_card_starts_equal_hyperscan_on_edge_cases(db: object, data: bytes) -> None:
    assert by_native(data) == by_hyperscan(db, data)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.sampled_from([b"1", b"9", b"0", b" ", b"-", b"_", b"a", b"\xe9", b"\n", b"12345"]),
        max_size=80,
    ).map(b"".join)
)
def test_card_starts_equal_hyperscan_on_generated_digit_runs(db: object, data: bytes) -> None:
    assert by_native(data) == by_hyperscan(db, data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_card_starts_equal_hyperscan_on_arbitrary_bytes(db: object, data: bytes) -> None:
    assert by_native(data) == by_hyperscan(db, data)


def test_card_starts_equal_hyperscan_on_payloads(db: object) -> None:
    r = random.Random(5)
    bodies = [typical_payload(i) for i in range(20)] + [payload(4096, seed=i) for i in range(20)]
    bodies += [bytes(r.choice(b"0123456789 -x") for _ in range(5000)) for _ in range(5)]
    hits = 0
    for body in bodies:
        got = by_native(body)
        assert got == by_hyperscan(db, body)
        hits += len(got.get(ID, ()))
    assert hits > 100


def test_card_starts_add_to_what_is_found() -> None:
    assert NATIVE is not None
    found: dict[int, set[int]] = {1: {3}, ID: {99}}
    NATIVE.card_starts(b"x 4111111111111111", found, ID)
    assert found == {1: {3}, ID: {99, 2}}
    NATIVE.card_starts(b"nothing here", found, 2)
    assert 2 not in found  # no match: no entry, as a database scan leaves it
    with pytest.raises(TypeError):
        NATIVE.card_starts(b"4111111111111111", {ID: [1]}, ID)
    with pytest.raises(TypeError):
        NATIVE.card_starts("4111111111111111", {}, ID)  # type: ignore[arg-type]


def test_only_the_builtin_card_pattern_is_scanned_natively() -> None:
    clf = Classifier()
    prefilter = clf._prefilter
    assert isinstance(prefilter, pf.HyperscanPrefilter)
    card = next(i for i, c in enumerate(clf._compiled) if c.det.id == "credit_card_number")
    assert list(prefilter._native_gated.values()) == [card]
    patterns = [(CARD_PATTERN, False, True)]
    assert pf.HyperscanPrefilter(patterns, trusted={0})._native_gated  # built-in: native
    assert not pf.HyperscanPrefilter(patterns)._native_gated  # untrusted (custom): database
    assert not pf.HyperscanPrefilter(patterns, trusted={0}, native=None)._native_gated
    assert not pf.HyperscanPrefilter([(CARD_PATTERN, True, True)], trusted={0})._native_gated
