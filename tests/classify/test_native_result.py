"""The native result loop (``_native.finding_rows``) builds what ``Classifier._result_rows`` does.

Rows (type, class, path text, shifted offsets, confidence, preview, path parts), the payload's
class and its confident types, for RawDoc and list leaves, text windows (shifted offsets),
every preview style (ASCII, non-ASCII, cut values, a negative keep_prefix that takes the
Python preview) and hostile arguments, which raise instead of crashing.
"""

from __future__ import annotations

import dataclasses
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ringfence.classify import Classifier
from ringfence.classify import _extract as ex
from ringfence.classify._accel import NATIVE
from ringfence.classify._catalogue import BUILTIN_DETECTORS
from ringfence.classify._hits import Hit
from ringfence.classify._mask import PREVIEW_MAX, preview, preview_py
from ringfence.core.levels import DataClass
from tests.classify.corpus import corpus, payload, typical_payload

pytestmark = pytest.mark.skipif(NATIVE is None, reason="native extension not built")
FAST = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier(native=True)


def native_rows(clf: Classifier, an: Any, step: int, min_conf: float | None = None) -> Any:
    assert NATIVE is not None
    conf = clf.min_confidence if min_conf is None else min_conf
    return NATIVE.finding_rows(
        an.hits, an.leaves, step, conf, DataClass.PUBLIC, PREVIEW_MAX, ex.PATHS,
        ex.format_path, preview,
    )  # fmt: skip


def python_rows(clf: Classifier, an: Any, step: int) -> Any:
    rows, top = clf._result_rows(an, step)
    types = frozenset(r[0] for r in rows if r[5] >= clf.min_confidence)
    return rows, top, types


def bodies() -> list[tuple[bytes, str]]:
    out = [(typical_payload(i), "application/json") for i in range(12)]
    out += [(payload(4096, seed=i), "application/json") for i in range(4)]
    out += [(r.body, r.content_type) for r in corpus(60, seed=7)]
    return out


@pytest.mark.parametrize("step", [0, 1 << 20])
def test_rows_equal_the_python_loop_on_the_corpora(clf: Classifier, step: int) -> None:
    seen = 0
    for body, ctype in bodies():
        an = clf.analyze(body, ctype)
        seen += len(an.hits)
        assert native_rows(clf, an, step) == python_rows(clf, an, step)
    assert seen > 100


def test_scan_results_equal_on_both_engines(clf: Classifier) -> None:
    py = Classifier(native=False)
    for body, ctype in bodies():
        got, want = clf.scan(body, ctype), py.scan(body, ctype)
        assert got == want
        assert type(got) is type(want) and got.types == want.types


def test_text_windows_shift_offsets_alike() -> None:
    small = dict(chunk_chars=300, overlap_chars=256)
    text = ("mail jane.doe@example.org, call +44 20 7946 0958. " * 40).encode()
    got = Classifier(native=True, **small).scan(text, "text/plain")
    want = Classifier(native=False, **small).scan(text, "text/plain")
    assert got == want
    assert max(f.start for f in got.findings) > 300


_STYLES = sorted(
    {(d.mask, d.keep_prefix) for d in BUILTIN_DETECTORS}
    | {("last4", 0), ("email", 0), ("prefix", 3), ("full", 0), ("prefix", -1), ("email", -2)}
)


@FAST
@given(
    text=st.text(alphabet=string.printable, max_size=50)
    | st.text(alphabet="ab1@.-é١²𝟘 ", max_size=40),
    cut=st.tuples(st.integers(0, 60), st.integers(0, 60)),
    style=st.sampled_from(_STYLES),
    conf=st.floats(0.0, 1.0),
)
def test_rows_equal_the_python_loop_on_generated_values(
    clf: Classifier, text: str, cut: tuple[int, int], style: tuple[str, int], conf: float
) -> None:
    det = dataclasses.replace(BUILTIN_DETECTORS[0], mask=style[0], keep_prefix=style[1])
    leaves = [ex.Leaf(("a", 0), "a", text), ex.Leaf(("b", "c d"), "b c d", text[::-1])]
    hits = [Hit(i % 2, cut[0], cut[1], conf, det) for i in range(3)]
    an = ex_analysis(leaves, hits)
    assert native_rows(clf, an, 7) == python_rows(clf, an, 7)


@FAST
@given(
    value=st.text(alphabet="ab1.-_@ ", max_size=40)
    | st.text(alphabet=string.printable, max_size=60),
    style=st.sampled_from(_STYLES),
)
def test_native_preview_of_ascii_equals_python(value: str, style: tuple[str, int]) -> None:
    assert NATIVE is not None
    det = dataclasses.replace(BUILTIN_DETECTORS[0], mask=style[0], keep_prefix=style[1])
    if style[1] >= 0:
        got, want = NATIVE.preview(style[0], style[1], PREVIEW_MAX, value), preview_py(det, value)
        assert got == want  # (str equality also needs the same storage kind: canonical)
        assert got.isascii() == want.isascii()
    assert preview(det, value) == preview_py(det, value)


def ex_analysis(leaves: list[ex.Leaf], hits: list[Hit]) -> Any:
    from ringfence.classify._engine import Analysis

    return Analysis(kind="json", leaves=leaves, hits=hits)


def test_class_and_types_count_only_confident_hits(clf: Classifier) -> None:
    dets = {d.id: d for d in BUILTIN_DETECTORS}
    low = dets["email_address"]
    high = next(d for d in BUILTIN_DETECTORS if d.data_class > low.data_class)
    leaves = [ex.Leaf(("x",), "x", "jane.doe@example.org 123-45-6789")]
    hits = [Hit(0, 0, 20, 0.9, low), Hit(0, 21, 32, 0.2, high)]
    an = ex_analysis(leaves, hits)
    _, top, types = native_rows(clf, an, 0)
    assert (top, types) == (low.data_class, frozenset({"email_address"}))
    assert native_rows(clf, an, 0) == python_rows(clf, an, 0)
    _, top, types = native_rows(clf, an, 0, min_conf=0.1)
    assert (top, types) == (high.data_class, frozenset({"email_address", high.id}))


def test_hostile_arguments_raise(clf: Classifier) -> None:
    assert NATIVE is not None
    det = BUILTIN_DETECTORS[0]
    leaves = [ex.Leaf(("a",), "a", "jane@example.org")]

    def call(hits: Any, lv: Any = leaves, step: int = 0, limit: int = PREVIEW_MAX) -> Any:
        assert NATIVE is not None
        return NATIVE.finding_rows(
            hits, lv, step, 0.5, DataClass.PUBLIC, limit, ex.PATHS, ex.format_path, preview
        )

    with pytest.raises(IndexError):
        call([Hit(1, 0, 4, 0.9, det)])
    with pytest.raises(IndexError):
        call([Hit(-2, 0, 4, 0.9, det)])
    assert call([Hit(-1, 0, 4, 0.9, det)])[0][0][2] == "$.a"  # leaves[-1], as Python
    with pytest.raises(AttributeError):
        call([object()])
    with pytest.raises(TypeError):
        call([Hit(0, "0", 4, 0.9, det)])
    with pytest.raises(TypeError):
        call([Hit(0, 0, 4, 0.9, det)], lv=("not", "leaves"))
    with pytest.raises(TypeError):
        call([Hit(0, 0, 4, 0.9, det)], lv=["not a leaf"])
    two = [*leaves, *leaves]
    with pytest.raises(OverflowError):  # offsets past 2**63 (a window step no scan uses)
        call([Hit(1, 0, 4, 0.9, det)], lv=two, step=2**63 - 1)
    with pytest.raises(OverflowError):
        call([Hit(0, 2**70, 4, 0.9, det)])
    with pytest.raises(ValueError):
        call([], limit=0)
    bad = dataclasses.replace(det, mask=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        call([Hit(0, 0, 4, 0.9, bad)])


def test_callbacks_that_mutate_the_hits_do_not_crash(clf: Classifier) -> None:
    assert NATIVE is not None
    det = dataclasses.replace(BUILTIN_DETECTORS[0], keep_prefix=-1)  # the Python preview
    leaves = [ex.Leaf(("a", i), "a", "jane@example.org") for i in range(3)]
    hits = [Hit(i, 0, 4, 0.9, det) for i in range(3)]

    def meddling_preview(d: Any, value: str) -> str:
        hits.clear()
        leaves.clear()
        return preview(d, value)

    rows, _, _ = NATIVE.finding_rows(
        hits, leaves, 0, 0.5, DataClass.PUBLIC, PREVIEW_MAX, {}, ex.format_path,
        meddling_preview,
    )  # fmt: skip
    assert [r[2] for r in rows] == ["$.a[0]", "$.a[1]", "$.a[2]"]
