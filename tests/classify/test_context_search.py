"""Context-required detectors search only near their context words — in linear time.

The old search re-scanned from every context word up to the same distant match, so a body with
a context word every 50 characters and one value at the end cost O(n²) regex steps (a 1 MiB
body: ~45 s of CPU through the gateway's DLP; found by the native-code review). The search now
remembers that distant match. These tests hold the new search to the old one's results on
random leaves (both engine paths) and count regex searches on the hostile shape.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from ringfence.classify import Classifier
from ringfence.classify import _extract as ex
from ringfence.classify._engine import _by_key
from ringfence.core.errors import ConfigError


def old_search(c: Any, text: str, base: int, end: int, ps: list[int]) -> Iterator[Any]:
    """The quadratic search as it was (reference for the results)."""
    cur = base
    for p in ps:
        if p + 48 < cur:
            continue
        for m in c.regex.finditer(text, max(cur, p), end):
            if m.start() > p + 48:
                break
            cur = m.end() if m.end() > m.start() else m.end() + 1
            yield m
        else:
            break


def classifier(native: bool) -> Classifier:
    """The Python or the native engine; skips when the native one is not there (not built,
    or switched off with RINGFENCE_CLASSIFY_NATIVE=0)."""
    if not native:
        return Classifier(native=False)
    try:
        return Classifier(native=True)
    except ConfigError:
        pytest.skip("the native engine is not available here")


class CountingRegex:
    """Delegates to the detector's regex and counts the searches started."""

    def __init__(self, regex: Any) -> None:
        self.regex, self.searches = regex, 0

    def finditer(self, *args: Any) -> Any:
        self.searches += 1
        return self.regex.finditer(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.regex, name)


@pytest.mark.parametrize("native", [False, True])
def test_same_matches_as_the_old_search(native: bool) -> None:
    clf = classifier(native)
    r = random.Random(7)
    detectors = [c for c in clf._compiled if c.det.needs_context and c.det.context]
    assert detectors
    for _ in range(1500):
        c = r.choice(detectors)
        word = r.choice(c.det.context)
        parts = [
            r.choice(
                [
                    word,
                    "x" * r.randint(0, 60),
                    "123456789",
                    "12-3456789",
                    "AB1234567",
                    "2001-02-03",
                    " ",
                    "9" * r.randint(1, 14),
                    "44051401359",
                ]
            )
            for _ in range(r.randint(1, 30))
        ]
        text = " ".join(parts)
        leaf = ex.Leaf(("k",), "note", text)
        at = sorted(i for i in range(len(text)) if text.startswith(word, i))
        if not at:
            continue
        got = [m.span() for m in clf._context_matches(c, [leaf], text, [0], at, _by_key([leaf]))]
        want = [m.span() for m in old_search(c, text, 0, len(text), at)]
        assert got == want, (c.det.id, text)


@pytest.mark.parametrize("native", [False, True])
def test_many_context_words_before_one_value_cost_a_bounded_number_of_searches(
    native: bool,
) -> None:
    clf = classifier(native)
    idx = next(i for i, c in enumerate(clf._compiled) if c.det.id == "poland_pesel_number")
    c = clf._compiled[idx]
    counter = CountingRegex(c.regex)
    c.regex = counter
    try:
        words = 8000
        body = ("pesel " + "x" * 44) * words + " 44051401359"
        result = clf.scan(body.encode(), "text/plain")
    finally:
        c.regex = counter.regex
    # The old search started one scan per context word, each running to the far end: 8,000
    # searches over ~400 KB. Now a handful, whatever the number of words.
    assert counter.searches <= 5, counter.searches
    assert result is not None


def test_values_next_to_their_words_are_still_found_on_both_paths() -> None:
    body = b'{"note": "pesel 44051401359, then ' + b"x" * 300 + b' pesel 44051401359"}'
    found = {}
    for native in (False, True):
        try:
            clf = Classifier(native=native)
        except ConfigError:
            continue
        found[native] = [
            (f.type_id, f.start, f.end) for f in clf.scan(body, "application/json").findings
        ]
    assert [t for t, _, _ in found[False]].count("poland_pesel_number") == 2
    assert all(v == found[False] for v in found.values())
