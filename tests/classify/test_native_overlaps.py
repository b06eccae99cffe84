"""The native overlap resolution (``_native.resolve_overlaps``) keeps what
``_hits.resolve_overlaps`` keeps, and leaves the list in the same order.

Both sort the hits by (leaf, start, -rank) -- stable, a generic rule ranked half a point lower
-- and keep the first hit of the highest rank of each run overlapping the last kept one in its
leaf. Checked on generated hits (ties of every field, -0.0, generic and specific rules, runs of
overlaps), on what the engine confirms on the benchmark and corpus payloads, and on hits that
are not plain (an int confidence, NaN, a huge int, another object), which the native function
declines (None, the list untouched) so the Python one decides.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ringfence.classify import Classifier
from ringfence.classify._accel import NATIVE
from ringfence.classify._catalogue import BUILTIN_DETECTORS
from ringfence.classify._hits import Hit, resolve_overlaps
from tests.classify.corpus import corpus, payload, typical_payload

pytestmark = pytest.mark.skipif(NATIVE is None, reason="native extension not built")

GENERIC = next(d for d in BUILTIN_DETECTORS if d.id.startswith("generic_"))
SPECIFIC = [d for d in BUILTIN_DETECTORS if not d.id.startswith("generic_")][:3]


def both(hits: list[Hit]) -> tuple[list[Hit], list[Hit], list[Hit], list[Hit]]:
    """(native kept, native-sorted list, Python kept, Python-sorted list) of copies of ``hits``."""
    assert NATIVE is not None
    a, b = list(hits), list(hits)
    kept = NATIVE.resolve_overlaps(a)
    assert kept is not None
    return kept, a, resolve_overlaps(b), b


def same(hits: list[Hit]) -> None:
    kept, order, ref_kept, ref_order = both(hits)
    # the very objects, in the same order (Hit compares by value: check identity too)
    assert [id(h) for h in kept] == [id(h) for h in ref_kept]
    assert [id(h) for h in order] == [id(h) for h in ref_order]


hit = st.builds(
    Hit,
    st.integers(0, 3),
    st.integers(0, 12),
    st.integers(0, 16),
    st.sampled_from([0.0, -0.0, 0.25, 0.5, 0.75, 0.9, 1.0, 1.25, 0.1 + 0.2, 0.3]),
    st.sampled_from([GENERIC, *SPECIFIC]),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(hit, max_size=40))
def test_generated_hits_are_resolved_alike(hits: list[Hit]) -> None:
    same(hits)


def test_many_hits_take_the_merge_sort_alike() -> None:
    import random

    r = random.Random(4)
    dets = [GENERIC, *SPECIFIC]
    for n in (2, 3, 31, 32, 33, 100, 1000):
        hits = [
            Hit(
                r.randint(0, 5),
                r.randint(0, 50),
                r.randint(0, 60),
                r.choice([0.5, 0.7, 1.0]),
                r.choice(dets),
            )
            for _ in range(n)
        ]
        same(hits)


def test_short_lists_come_back_as_they_are() -> None:
    assert NATIVE is not None
    one = [Hit(0, 0, 1, 0.5, GENERIC)]
    assert NATIVE.resolve_overlaps(one) is one and NATIVE.resolve_overlaps([]) == []


@pytest.mark.parametrize(
    "odd",
    [
        {"confidence": 1},  # an int: Python compares it as a number; the native one declines
        {"confidence": float("nan")},
        {"leaf": 2**70},
        {"start": True},
        {"det": object()},
    ],
)
def test_hits_that_are_not_plain_are_declined(odd: dict[str, Any]) -> None:
    assert NATIVE is not None
    hits = [Hit(0, 5, 9, 0.5, SPECIFIC[0]), Hit(0, 1, 4, 0.7, SPECIFIC[1])]
    hits.append(dataclasses.replace(hits[0], **odd))
    before = list(hits)
    assert NATIVE.resolve_overlaps(hits) is None
    assert hits == before and all(a is b for a, b in zip(hits, before, strict=True))


def test_not_a_list_is_refused() -> None:
    assert NATIVE is not None
    with pytest.raises(TypeError):
        NATIVE.resolve_overlaps((Hit(0, 0, 1, 0.5, GENERIC),) * 2)  # type: ignore[arg-type]


def test_engine_hits_are_resolved_alike() -> None:
    clf = Classifier(native=True)
    seen: list[list[Hit]] = []
    assert NATIVE is not None
    native = NATIVE.resolve_overlaps

    def spy(hits: list[Hit]) -> list[Hit] | None:
        seen.append(list(hits))
        return native(hits)

    bodies = [typical_payload(i) for i in range(20)] + [payload(4096, seed=i) for i in range(10)]
    bodies += [r.body for r in corpus(150, seed=11)]
    mp = pytest.MonkeyPatch()
    mp.setattr(NATIVE, "resolve_overlaps", spy)
    try:
        for body in bodies:
            clf.scan(body, "application/json")
    finally:
        mp.undo()
    assert sum(len(h) > 1 for h in seen) > 20  # the engine's overlapping hits were seen
    for hits in seen:
        same(hits)
