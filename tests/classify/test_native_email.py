"""``_native.email_spans`` finds exactly what ``re`` finds with the built-in email pattern.

The native engine matches EMAIL_PATTERN without Python's ``re`` (its repeats can only stop at
the end of a run, so no backtracking is needed). Held here to ``re.match`` at every start and
to the engine's reference loop (``Classifier._matches_at``) on edge cases: run lengths at the
pattern's bounds, word characters around, non-ASCII text, offsets past the end.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ringfence.classify import Classifier, load_custom_detectors
from ringfence.classify._accel import NATIVE
from ringfence.classify._engine import compile_detector
from ringfence.classify._model import Detector
from ringfence.classify._pii import EMAIL_PATTERN, EMAIL_PREFILTER, EMAIL_START
from ringfence.core.levels import DataClass

needs_native = pytest.mark.skipif(NATIVE is None, reason="native extension not built")
RX = re.compile(EMAIL_PATTERN, re.ASCII)
BACK = 64


def _reference(text: str, offsets: list[int], back: int = BACK) -> list[tuple[int, int]]:
    """The engine's Python loop (Classifier._matches_at for a looser prefilter)."""
    out: list[tuple[int, int]] = []
    last_end = -1
    for p in offsets:
        if p < last_end:
            continue
        lo = p
        while lo > 0 and p - lo < back and text[lo - 1] in EMAIL_START:
            lo -= 1
        for k in range(lo, p + 1):
            m = RX.match(text, k)
            if m is not None and m.end() > p:
                last_end = m.end()
                out.append(m.span())
                break
    return out


def _native(text: str, offsets: list[int], back: int = BACK) -> list[tuple[int, int]]:
    assert NATIVE is not None
    return NATIVE.email_spans(text, offsets, back)


def _every_start(text: str) -> None:
    """A start alone (back 0): the span re.match gives there, or nothing."""
    for k in range(len(text) + 1):
        m = RX.match(text, k)
        assert _native(text, [k], 0) == ([m.span()] if m else []), (text, k)


EDGES = [
    "",
    "@",
    "a@b.co",
    "a@b.c",
    "jane.doe@example.org",
    "x" * 64 + "@example.org",
    "x" * 65 + "@example.org",
    "a@" + "d" * 63 + ".org",
    "a@" + "d" * 64 + ".org",
    "a@b." + "c" * 24,
    "a@b." + "c" * 25,
    "a@b." + "c" * 24 + "1",
    "a@" + "l." * 8 + "com",
    "a@" + "l." * 9 + "com",
    "a@b.co-uk.x",
    "a@b.com.",
    "a@b.com.x",
    "a@b.com_",
    "a@b.com1",
    "a@b.com-",
    "_a@b.com",
    "x_a@b.com",
    "é@b.com",
    "éa@b.com",
    "aé@b.com",
    "a@bé.com",
    "a@b.comé",
    "a@b.co\u0663",
    "a@b..com",
    "a@-b.com",
    "..a..@b.com",
    "%+-@b.com",
    "a@b@c.com",
    "a@b.c@d.ef",
    "name: jo.hn@x.io, other: b@c.de\n\x00\nzz@q.rs",
    "a" * 70 + "@b.com",
    "a@1.23",
    "a@b.1com",
    "a@b.c1.com",
    "\U0001f600a@b.com\U0001f600",
]


@needs_native
@pytest.mark.parametrize("text", EDGES)
def test_email_spans_match_re_at_every_start(text: str) -> None:
    _every_start(text)


@needs_native
@pytest.mark.parametrize("text", EDGES)
def test_email_spans_equal_reference_loop_at_every_at_sign(text: str) -> None:
    ats = [i - 1 for i, ch in enumerate(text) if ch == "@" and i > 0]
    assert _native(text, ats) == _reference(text, ats)
    assert _native(text, list(range(len(text)))) == _reference(text, list(range(len(text))))


@needs_native
@pytest.mark.parametrize("back", [0, 1, 3, 64, 200])
def test_email_spans_step_back_as_far_as_the_reference(back: int) -> None:
    text = "contact: " + "a" * 80 + "@example.org and x.y@z.io"
    offsets = [i - 1 for i, ch in enumerate(text) if ch == "@"]
    assert _native(text, offsets, back) == _reference(text, offsets, back)


@needs_native
def test_email_spans_offsets_past_the_end_raise_like_the_reference() -> None:
    text = "a@b.com"
    assert _native(text, [len(text)]) == _reference(text, [len(text)])
    for bad in ([len(text) + 1], [len(text) + 5]):
        with pytest.raises(IndexError):
            _reference(text, bad)
        with pytest.raises(IndexError):
            _native(text, bad)


@needs_native
def test_email_spans_negative_offsets_read_as_re_reads_them() -> None:
    text = "a@b.com x"
    for offsets in ([-3], [-1], [-3, -1, 0]):
        assert _native(text, offsets) == _reference(text, offsets)
    assert _native(text, [-1]) == [(0, 7)]  # re.match at pos -1 starts at 0


@needs_native
def test_email_spans_reject_bad_arguments() -> None:
    assert NATIVE is not None
    with pytest.raises(TypeError):
        NATIVE.email_spans(b"a@b.com", [0], 64)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        NATIVE.email_spans("a@b.com", (0,), 64)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        NATIVE.email_spans("a@b.com", ["0"], 64)  # type: ignore[list-item]


PIECES = ["a", "Z", "9", ".", "_", "%", "+", "-", "@", "é", "\u0663", " ", "\n", "co", "ab.cd"]


@needs_native
@settings(max_examples=400, deadline=None)
@given(
    text=st.lists(st.sampled_from(PIECES), max_size=60).map("".join),
    picks=st.lists(st.integers(-2, 70), max_size=12),
    back=st.sampled_from([0, 2, 64]),
)
def test_email_spans_equal_re_on_generated_text(text: str, picks: list[int], back: int) -> None:
    _every_start(text)
    offsets = sorted(p for p in picks if p <= len(text))
    assert _native(text, offsets, back) == _reference(text, offsets, back)


@needs_native
@settings(max_examples=150, deadline=None)
@given(
    local=st.integers(0, 70),
    labels=st.lists(st.integers(0, 66), min_size=0, max_size=10),
    tld=st.integers(0, 27),
    after=st.sampled_from(["", " ", "_", "1", "é", ".", "-", "x"]),
)
def test_email_spans_at_the_bounds_of_every_repeat(
    local: int, labels: list[int], tld: int, after: str
) -> None:
    text = "a" * local + "@" + "".join("b" * n + "." for n in labels) + "c" * tld + after
    _every_start(text)
    ats = [i - 1 for i, ch in enumerate(text) if ch == "@"]
    assert _native(text, ats) == _reference(text, ats)


def test_only_the_builtin_email_pattern_takes_the_native_matcher() -> None:
    clf = Classifier()
    assert [c.det.id for c in clf._compiled if c.native_email] == ["email_address"]
    det = next(c.det for c in clf._compiled if c.native_email)
    # the same pattern as a custom detector (RE2 syntax, untrusted) stays on its engine
    assert not compile_detector(det, use_re2=True).native_email
    other = Detector(
        "my_mail", "Mail", DataClass.CONFIDENTIAL, "pii", EMAIL_PATTERN,
        prefilter=det.prefilter, prefilter_lookbehind=64, start_chars=EMAIL_START[:-1],
    )  # fmt: skip
    assert not compile_detector(other).native_email
    spec = {"id": "corp_mail", "class": "confidential", "pattern": EMAIL_PATTERN}
    custom = load_custom_detectors([{**spec, "positive": ["jane@example.org"]}])
    assert not any(c.native_email for c in Classifier(custom=custom)._compiled[-1:])


@needs_native
def test_email_findings_equal_on_both_engines() -> None:
    texts = [
        "write to jane.doe@example.org or " + "x" * 70 + "@b.com today",
        '{"email": "a@b.co", "note": "cc: z_z@q.museum, x@y.c0m, \u00e9l\u00e8ve@ecole.fr"}',
        " ".join(f"u{i}@host{i}.example.org" for i in range(80)),  # past the anchored cap
    ]
    nat, py = Classifier(native=True), Classifier(native=False)
    for t in texts:
        for kind in ("text/plain", "application/json"):
            body = t.encode()
            assert nat.scan(body, kind).findings == py.scan(body, kind).findings


PREFILTER_RX = re.compile(EMAIL_PREFILTER.encode(), re.ASCII)


def _anchored(data: bytes, limit: int = 64) -> tuple[bool, dict[int, set[int]]]:
    assert NATIVE is not None
    found: dict[int, set[int]] = {}
    done = NATIVE.anchor_starts(data, ord("@"), 1, None, found, 3, limit)
    return done, found


def _anchored_by_re(data: bytes, limit: int = 64) -> tuple[bool, dict[int, set[int]]]:
    assert NATIVE is not None
    found: dict[int, set[int]] = {}
    done = NATIVE.anchor_starts(data, ord("@"), 1, PREFILTER_RX.match, found, 3, limit)
    return done, found


PREFILTER_EDGES = [
    b"",
    b"@",
    b"a@",
    b"a@b",
    b"a@b.",
    b"a@b.c",
    b"a@b.-",
    b"_@b.c",
    b"a@-.c",
    b"a@" + b"b" * 63 + b".c",
    b"a@" + b"b" * 64 + b".c",
    b"@a@b.c",
    b"a@@b.c",
    b"a@b..c",
    b"\xe9@b.c a@\xe9.c a@b.\xe9",
    b"x a@b.c0 y@z.Z",
]


@needs_native
@pytest.mark.parametrize("data", PREFILTER_EDGES)
def test_native_email_prefilter_check_equals_re(data: bytes) -> None:
    assert _anchored(data) == _anchored_by_re(data)


@needs_native
@settings(max_examples=400, deadline=None)
@given(
    data=st.lists(
        st.sampled_from([b"a", b"Z", b"9", b".", b"_", b"%", b"-", b"@", b"\xe9", b" ", b"bc."]),
        max_size=60,
    ).map(b"".join),
    limit=st.sampled_from([0, 1, 3, 64]),
)
def test_native_email_prefilter_check_equals_re_on_generated_bytes(data: bytes, limit: int) -> None:
    assert _anchored(data, limit) == _anchored_by_re(data, limit)


@needs_native
def test_native_email_prefilter_check_only_for_its_anchor() -> None:
    assert NATIVE is not None
    with pytest.raises(ValueError):
        NATIVE.anchor_starts(b"a+1", ord("+"), 1, None, {}, 3, 64)
    with pytest.raises(ValueError):
        NATIVE.anchor_starts(b"a@b.c", ord("@"), 0, None, {}, 3, 64)


def test_only_the_builtin_email_prefilter_is_checked_natively() -> None:
    from ringfence.classify import _prefilter as pf

    clf = Classifier()
    prefilter = clf._prefilter
    assert isinstance(prefilter, pf.HyperscanPrefilter)
    email = next(i for i, c in enumerate(clf._compiled) if c.det.id == "email_address")
    assert email in prefilter._native_check  # (and the phone pattern: test_native_phone_*)
    assert not pf.HyperscanPrefilter([(EMAIL_PREFILTER, True, True)], trusted={0})._native_check
    assert pf.HyperscanPrefilter([(EMAIL_PREFILTER, False, True)], trusted={0})._native_check
    assert not pf.HyperscanPrefilter([(EMAIL_PREFILTER, False, True)])._anchored  # untrusted
