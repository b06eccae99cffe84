"""_native.outside_uuids keeps exactly the hits _engine._outside_uuids keeps.

The native function asks ``in_uuid`` only about hits beside a hex digit or a dash (in_uuid's
own first test answers False for the others); any hit it cannot read plainly goes to in_uuid.
"""

from __future__ import annotations

import random

import pytest

from ringfence.classify import _extract as ex
from ringfence.classify._accel import NATIVE
from ringfence.classify._catalogue import BUILTIN_DETECTORS
from ringfence.classify._engine import _outside_uuids, in_uuid
from ringfence.classify._hits import Hit

needs_native = pytest.mark.skipif(NATIVE is None, reason="native extension not built")
DET = BUILTIN_DETECTORS[0]
TEXTS = [
    "54484252-6369-4216-bdcb-5f0a3c1e9d20",
    "card 4556737586899855 end",
    "id 4556737586899855-ab",
    "a-4556737586899855",
    "4556737586899855",
    "x54484252-6369-4216-bdcb-5f0a3c1e9d20y 4111-1111-1111-1111",
    "\uff21\uff22 12-34 \u00fcn\u00efc\u00f6d\u00e9-f00d",  # wide text around hex and dashes
    "",
]


@needs_native
def test_same_hits_as_the_python_filter() -> None:
    assert NATIVE is not None
    r = random.Random(4)
    leaves = [ex.Leaf(("a", i), "k", t) for i, t in enumerate(TEXTS)]
    for _ in range(3000):
        hits = []
        for _ in range(r.randint(0, 6)):
            li = r.randrange(len(leaves))
            n = len(leaves[li].text)
            s = r.randint(-2, n + 2)
            e = r.randint(-2, n + 3)
            hits.append(Hit(li, s, e, 0.9, DET))
        try:
            want = _outside_uuids(hits, leaves)
        except IndexError:
            with pytest.raises(IndexError):
                NATIVE.outside_uuids(hits, leaves, in_uuid)
            continue
        assert NATIVE.outside_uuids(hits, leaves, in_uuid) == want


@needs_native
def test_in_uuid_is_only_asked_beside_hex_or_dash() -> None:
    assert NATIVE is not None
    asked: list[tuple[str, int, int]] = []

    def spy(text: str, s: int, e: int) -> bool:
        asked.append((text, s, e))
        return in_uuid(text, s, e)

    leaves = [ex.Leaf(("a",), "k", "card 4556737586899855 end"), ex.Leaf(("b",), "k", TEXTS[0])]
    hits = [Hit(0, 5, 21, 0.9, DET), Hit(1, 0, 8, 0.9, DET)]
    assert NATIVE.outside_uuids(hits, leaves, spy) == [hits[0]]
    assert asked == [(TEXTS[0], 0, 8)]
    with pytest.raises(TypeError):
        NATIVE.outside_uuids((), leaves, spy)
