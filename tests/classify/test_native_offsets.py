"""``char_candidates`` reads a wide str's byte offsets from its UTF-8 bytes exactly as from the
str itself (and as ``_hits.byte_to_char``): offsets on and inside multi-byte characters
(two, three and four bytes, lone surrogates as ``surrogatepass`` writes them), past the end,
negative, long runs far from any offset."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ringfence.classify._accel import NATIVE
from ringfence.classify._hits import byte_to_char

pytestmark = pytest.mark.skipif(NATIVE is None, reason="native extension not built")

WIDE = st.text(alphabet="aé\u0101\u4e2d\U0001f600\ud800 \n", max_size=300)


@settings(max_examples=300, deadline=None)
@given(
    text=WIDE,
    cands=st.dictionaries(
        st.integers(0, 40), st.sets(st.integers(-3, 1300), max_size=10), max_size=6
    ),
)
def test_offsets_from_utf8_bytes_equal_python(text: str, cands: dict[int, set[int]]) -> None:
    assert NATIVE is not None
    data = text.encode("utf-8", "surrogatepass")
    to_char = byte_to_char(text)
    want = {i: sorted(map(to_char, offs)) for i, offs in cands.items()}
    assert NATIVE.char_candidates(text, cands, data) == want
    assert NATIVE.char_candidates(text, cands) == want


def test_every_byte_offset_of_wide_text_maps_alike() -> None:
    assert NATIVE is not None
    text = "x" * 40 + "\u4e2d\U0001f600é\ud800a" * 9 + "y" * 17
    data = text.encode("utf-8", "surrogatepass")
    cands = {1: set(range(-2, len(data) + 5))}
    assert NATIVE.char_candidates(text, cands, data) == NATIVE.char_candidates(text, cands)
    to_char = byte_to_char(text)
    assert NATIVE.char_candidates(text, cands, data)[1] == sorted(map(to_char, cands[1]))


def test_utf8_bytes_need_a_str_beside_them() -> None:
    assert NATIVE is not None
    with pytest.raises(TypeError):
        NATIVE.char_candidates(None, {1: {0}}, b"abc")
    with pytest.raises(TypeError):
        NATIVE.char_candidates("\u4e2d", {1: {0}}, "not bytes")  # type: ignore[arg-type]


def test_offsets_either_side_of_the_native_int_cache_give_the_python_findings() -> None:
    """Offsets below 16384 come from a cache of int objects, larger ones are made: a body
    whose findings lie on both sides gives the pure-Python path's findings."""
    import json

    from ringfence.classify import Classifier

    records = [
        {"id": i, "email": f"user{i}@example.org", "note": "x" * 40, "phone": "+44 7911 123456"}
        for i in range(400)
    ]
    body = json.dumps({"results": records}).encode()
    assert len(body) > 3 * 16384
    got = Classifier().scan(body, "application/json").findings
    want = Classifier(native=False).scan(body, "application/json").findings
    assert got == want
    assert len(got) >= 800  # an email and a phone number per record
