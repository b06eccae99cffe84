"""The per-page native calls take their arguments without a tuple (METH_FASTCALL) and still
refuse what PyArg_ParseTuple refused, with the same exception types: a wrong count, a wrong
type (tuple, list, dict, str, type where one is required), a float where an int is.

Each call is also made with good arguments of the engine's shape, so a check that refuses
too much fails here too (the engine's own tests run every call with real pages).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from ringfence.classify import Classifier
from ringfence.classify import _extract as ex
from ringfence.classify._accel import NATIVE
from ringfence.classify._engine import _FINDING_FIELDS
from ringfence.classify._mask import PREVIEW_MAX, preview
from ringfence.classify._model import Finding
from ringfence.core.levels import DataClass

pytestmark = pytest.mark.skipif(NATIVE is None, reason="native extension not built")


@cache
def _classifier() -> Classifier:
    return Classifier()


def _engine_call_shapes() -> dict[str, tuple[Any, ...]]:
    """Good arguments for each converted call, as the engine makes them."""
    clf = _classifier()
    idx = next(i for i, c in enumerate(clf._compiled) if c.det.id == "phone_number_national")
    spec, eng = clf._spec[idx], clf._eng
    leaf = ex.Leaf(("phone",), "phone", "call (415) 555-2671 now")
    text, starts = leaf.text, [0]
    rx = clf._compiled[idx].regex
    return {
        "confirm": (spec, eng, [leaf], text, starts, [], [], True, {}),
        "matches_at": (rx.match, text, [5]),
        "context_matches": (spec, eng, rx.finditer, [leaf], text, starts, [0]),
        "finding_rows": (
            [],
            [leaf],
            0,
            0.5,
            DataClass.PUBLIC,
            PREVIEW_MAX,
            ex.PATHS,
            ex.format_path,
            preview,
        ),
        "new_objects": (Finding, _FINDING_FIELDS, []),
    }


def test_good_arguments_are_taken() -> None:
    assert NATIVE is not None
    for name, args in _engine_call_shapes().items():
        getattr(NATIVE, name)(*args)
    shapes = _engine_call_shapes()
    spec, eng, finditer, leaves, text, starts, at = shapes["context_matches"]
    NATIVE.context_matches(spec, eng, finditer, leaves, text, starts, at, None)
    NATIVE.context_matches(spec, eng, finditer, leaves, text, starts, at, None, None)
    # subclasses pass the type checks, as with PyArg_ParseTuple's O! and U
    NATIVE.matches_at(shapes["matches_at"][0], type("S", (str,), {})(text), [5])


# (call, argument index, a bad value, the exception)
BAD = [
    ("confirm", 0, [], TypeError),
    ("confirm", 1, [], TypeError),
    ("confirm", 3, b"text", TypeError),
    ("confirm", 4, (0,), TypeError),
    ("confirm", 6, (), TypeError),
    ("confirm", 8, [], TypeError),
    ("matches_at", 1, b"text", TypeError),
    ("matches_at", 2, (5,), TypeError),
    ("context_matches", 0, [], TypeError),
    ("context_matches", 1, [], TypeError),
    ("context_matches", 4, None, TypeError),
    ("context_matches", 5, (0,), TypeError),
    ("context_matches", 6, (0,), TypeError),
    ("finding_rows", 0, (), TypeError),
    ("finding_rows", 2, 0.0, TypeError),
    ("finding_rows", 2, "0", TypeError),
    ("finding_rows", 2, 1 << 80, OverflowError),
    ("finding_rows", 5, 1.5, TypeError),
    ("finding_rows", 5, None, TypeError),
    ("finding_rows", 6, [], TypeError),
    ("new_objects", 0, "Finding", TypeError),
    ("new_objects", 1, [], TypeError),
    ("new_objects", 2, (), TypeError),
]


@pytest.mark.parametrize(("name", "index", "bad", "error"), BAD)
def test_bad_arguments_are_refused(name: str, index: int, bad: Any, error: type) -> None:
    args = list(_engine_call_shapes()[name])
    args[index] = bad
    with pytest.raises(error):
        getattr(NATIVE, name)(*args)


@pytest.mark.parametrize("name", ["confirm", "matches_at", "context_matches", "finding_rows",
                                  "new_objects"])  # fmt: skip
def test_wrong_counts_and_keywords_are_refused(name: str) -> None:
    args = _engine_call_shapes()[name]
    fn = getattr(NATIVE, name)
    with pytest.raises(TypeError):
        fn(*args[:-1] if name != "context_matches" else args[:6])
    with pytest.raises(TypeError):
        fn(*args, *([None] * 3))
    with pytest.raises(TypeError):
        fn(*args, extra=1)
