"""Text no well-formed UTF-8 producer would send: lone surrogates, starts inside characters.

A parsed document handed to ``scan_json`` can hold lone surrogates (``json.loads`` accepts
``"\\udc00"``); Hyperscan scans UTF-8 bytes and may report a match starting inside a
multi-byte character. Neither may make the scanner raise or report odd offsets, on either the
native or the pure-Python path.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ringfence.classify import Classifier
from ringfence.classify import _extract as ex
from ringfence.classify._accel import NATIVE
from ringfence.classify._hits import byte_to_char

FAST = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
NATIVE_MODES = [False] + ([True] if NATIVE is not None else [])
# st.text() leaves out surrogates by default; these keys and values have them.
any_text = st.text(st.characters(blacklist_categories=()), max_size=12)
docs = st.recursive(
    st.none() | st.integers() | any_text,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(any_text, kids, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module", params=NATIVE_MODES, ids=lambda n: "native" if n else "python")
def clf(request: pytest.FixtureRequest) -> Classifier:
    return Classifier(native=request.param)


def test_lone_surrogate_in_a_key_is_reported_with_an_escaped_path(clf: Classifier) -> None:
    res = clf.scan_json({"a\udc00": "jane.doe@example.org", "ok": {"b\ud800c": [1]}})
    assert [(f.type_id, f.path) for f in res.findings] == [("email_address", '$["a\\udc00"]')]
    assert res.findings[0].path_parts == ("a\udc00",)
    assert json.loads(clf.to_json(res))["findings"][0]["path"] == '$["a\\udc00"]'


def test_paths_without_surrogates_are_unchanged() -> None:
    assert ex.format_path(("customer", "e-mail", 0, "ü")) == '$.customer["e-mail"][0].ü'
    assert ex.format_path(("a b",)) == '$["a b"]'


@FAST
@given(doc=docs)
def test_scan_json_never_raises_on_documents_with_surrogates(clf: Classifier, doc: Any) -> None:
    res = clf.scan_json({"k\udfff": doc, "email": doc, "v": ["x\ud800 jane@example.org", doc]})
    clf.to_json(res)
    assert all(0 <= f.start <= f.end for f in res.findings)


def _utf8_positions(text: str) -> list[int]:
    """Byte offset -> index of the character holding that byte (plus the end offset)."""
    out: list[int] = []
    for i, ch in enumerate(text):
        out += [i] * len(ch.encode("utf-8", "surrogatepass"))
    return [*out, len(text)]


@pytest.mark.parametrize(
    "text", ["\u0800abc", "é\U0001f600x", "a\udc00b", "\U0001f600\U0001f600", "plain"]
)
def test_byte_offsets_inside_a_character_map_to_that_character(text: str) -> None:
    to_char = byte_to_char(text)
    want = _utf8_positions(text)
    assert [to_char(b) for b in range(len(want))] == want


@FAST
@given(text=st.text(st.characters(blacklist_categories=()), max_size=40))
def test_byte_to_char_is_monotonic_and_never_negative(text: str) -> None:
    to_char = byte_to_char(text)
    want = _utf8_positions(text)
    assert [to_char(b) for b in range(len(want))] == want


@pytest.mark.skipif(NATIVE is None, reason="native extension not built")
@FAST
@given(
    text=st.text(st.characters(blacklist_categories=()), max_size=40),
    offs=st.sets(st.integers(0, 200), max_size=10),
)
def test_native_offsets_inside_a_character_map_to_that_character(text: str, offs: set[int]) -> None:
    assert NATIVE is not None
    want = _utf8_positions(text)
    offs = {o for o in offs if o < len(want)}
    assert NATIVE.char_candidates(text, {3: offs}) == {3: sorted(want[o] for o in offs)}
