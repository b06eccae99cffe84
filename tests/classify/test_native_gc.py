"""What the native path hands the cyclic GC, and the leaf starts it no longer copies.

A 1 MiB body has tens of thousands of leaves and thousands of hits and findings. Objects that
cannot be part of a reference cycle (leaves of str and int, hits, findings, the int-only leaf
starts, re.Match objects kept in result lists) are left out of the cyclic GC: tracked, they
set off collections that walked them all, then full collections of the whole heap once
promoted (session 12: ≈ 17 % of a 1 MiB scan's instructions). ``confirm`` reads the leaf
starts list in place instead of copying it per detector: a callback that changes the list
meanwhile is an error, never a wrong index.
"""

from __future__ import annotations

import gc
import re
from typing import Any

import pytest

from ringfence.classify import Classifier
from ringfence.classify import _extract as ex
from ringfence.classify._accel import NATIVE
from ringfence.classify._engine import SEP
from ringfence.classify._model import Finding
from tests.classify.corpus import typical_payload

needs_native = pytest.mark.skipif(NATIVE is None, reason="native extension not built")


@needs_native
def test_new_objects_untracks_only_when_asked() -> None:
    assert NATIVE is not None
    names = ("type_id", "data_class", "path", "start", "end", "confidence", "preview", "path_parts")
    row = ("email_address", 2, "$.a", 0, 3, 0.9, "a**", ("a",))
    kept, untracked = (NATIVE.new_objects(Finding, names, [row], *u) for u in ((), (True,)))
    assert gc.is_tracked(kept[0]) and not gc.is_tracked(untracked[0])
    assert kept[0] == untracked[0]
    with pytest.raises(TypeError):
        NATIVE.new_objects(Finding, names, [row], True, 1)


@needs_native
def test_raw_scan_hands_the_gc_no_leaves_hits_or_findings() -> None:
    assert NATIVE is not None
    clf = Classifier(native=True)
    body = typical_payload(3, size=64 << 10)
    raw = NATIVE.json_raw(body, SEP, ex.Leaf, ex.norm_key, ex.normalize)
    assert raw is not None
    _leaves, _text, starts, _b, _s = raw
    assert not gc.is_tracked(starts)
    an = clf.analyze(body, "application/json")
    assert an.hits and not any(gc.is_tracked(h) for h in an.hits)
    assert not any(gc.is_tracked(an.leaves[h.leaf]) for h in an.hits)
    assert not any(gc.is_tracked(an.leaves[h.leaf].path) for h in an.hits)
    res = clf.result(an)
    assert res.findings and not any(gc.is_tracked(f) for f in res.findings)
    # the same findings as the reference path (parse and walk), which tracks as before
    ref = Classifier(native=True, raw_json=False).scan(body, "application/json")
    assert ref.findings == res.findings


@needs_native
def test_confirm_refuses_starts_changed_by_a_callback() -> None:
    assert NATIVE is not None
    nat = Classifier(native=True)
    idx = next(i for i, c in enumerate(nat._compiled) if c.det.id == "email_address")
    text = "jane@example.com"
    leaves = [ex.Leaf(("a",), "email", text), ex.Leaf(("b",), "mail", text)]
    joined, starts, _, _ = NATIVE.join_leaves(leaves, SEP)

    def shrinking(value: str) -> bool:
        starts.pop()
        return True

    spec = list(nat._spec[idx])
    spec[7] = shrinking  # validator
    rx = nat._compiled[idx].regex
    out: list[Any] = []
    with pytest.raises(ValueError, match="starts changed"):
        NATIVE.confirm(
            tuple(spec), nat._eng, leaves, joined, starts, rx.finditer(joined), out, True, {}
        )
    assert len(out) == 1  # the first match, confirmed before the list changed
    with pytest.raises(TypeError):
        NATIVE.confirm(
            nat._spec[idx], nat._eng, leaves, joined, [0, "x"], rx.finditer(joined), [], True, {}
        )


@needs_native
def test_kept_re_matches_are_untracked_other_objects_are_not() -> None:
    assert NATIVE is not None
    rx = re.compile("a")
    got = NATIVE.matches_at(rx.match, "aXa", [0, 1, 2])
    assert [m.span() for m in got] == [(0, 1), (2, 3)]
    assert not any(gc.is_tracked(m) for m in got)

    class Other:  # not a re.Match: left to the GC as it is
        def __init__(self, p: int) -> None:
            self.p = p

    others = NATIVE.matches_at(lambda text, p: Other(p), "abc", [0, 1])
    assert [o.p for o in others] == [0, 1] and all(gc.is_tracked(o) for o in others)
