"""The raw-body check's separators and whitespace (``csrc/gateway/_rawschema.c``).

The walk looks for the expected byte first (``:``, ``,``, the closing bracket, a key's quote)
and reads whitespace only when it is not there, and a value skips the whitespace before it.
So every place whitespace may or may not stand is checked here, against orjson and the
Python path: JSON whitespace (space, tab, CR, LF) accepted everywhere it is legal, anything
else below ``0x21`` (form feed, vertical tab, NUL, ...) never; a body cut at any byte never
accepted.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ringfence.gateway.routes import LimitsSpec
from tests.gateway.test_raw_schema import needs_extension, python_path, raw_says

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "batch": {"type": "string", "maxLength": 64},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": "string"},
                    "ok": {"type": "boolean"},
                    "none": {"type": "null"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["id"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["items"],
    "additionalProperties": False,
}
BODY = (
    b'{"batch":"b-1","items":[{"id":0,"name":"a","ok":true,"none":null,"tags":[]},'
    b'{"id":-12,"tags":["x","y"]},{"id":3}]}'
)
LIMITS = LimitsSpec()


def _verdicts(body: bytes) -> tuple[bool, bool]:
    """(what the C check says, whether orjson + the Python path accept it)."""
    try:
        orjson.loads(body)
        accepted = python_path(SCHEMA, body, LIMITS) == "ok"
    except orjson.JSONDecodeError:
        accepted = False
    return raw_says(SCHEMA, body, LIMITS), accepted


@needs_extension
def test_the_compact_body_is_accepted() -> None:
    assert _verdicts(BODY) == (True, True)


@needs_extension
@pytest.mark.parametrize("blank", [b" ", b"\t", b"\r", b"\n", b" \n\t\r "])
def test_json_whitespace_at_every_place_is_read_as_orjson_reads_it(blank: bytes) -> None:
    """Inserted before every byte (and at the end): the raw check says True exactly where
    orjson and the Python path accept the body (a space inside a string changes the value
    only; a tab or line break there is an unescaped control character)."""
    for at in range(len(BODY) + 1):
        body = BODY[:at] + blank + BODY[at:]
        # never True for a refused body, and no fallback for an accepted one either
        assert _verdicts(body) in ((True, True), (False, False)), body


@needs_extension
@pytest.mark.parametrize("byte", [0x00, 0x01, 0x08, 0x0B, 0x0C, 0x1F, 0x7F, 0xA0])
def test_other_blank_looking_bytes_are_never_accepted_between_tokens(byte: int) -> None:
    """Form feed, vertical tab, NUL, DEL, NBSP are not JSON whitespace: anywhere between
    tokens the body is malformed and the check must not say True."""
    for at in range(len(BODY) + 1):
        body = BODY[:at] + bytes([byte]) + BODY[at:]
        said, accepted = _verdicts(body)
        assert not said or accepted, body


@needs_extension
def test_a_body_cut_anywhere_is_never_accepted() -> None:
    for cut in range(len(BODY)):
        for tail in (b"", b" ", b"\n"):
            body = BODY[:cut] + tail
            assert not raw_says(SCHEMA, body, LIMITS), body


@needs_extension
@pytest.mark.parametrize(
    "body",
    [
        b'{"items":[{"id":1}] , }',
        b'{"items":[{"id":1} ,]}',
        b'{"items" : [ { "id" : 1 } , ] }',
        b'{"items":[{"id":1}]}}',
        b'{"items":[{"id":1}]]',
        b'{"items":[{"id":1}}',
        b'{"items":[{"id":1]}',
        b'{"items":[{"id" 1}]}',
        b'{"items":[{"id"::1}]}',
        b'{"items":[{"id":1,,"name":"a"}]}',
        b'{"items":[{,"id":1}]}',
        b'{"items":[,{"id":1}]}',
        b'{,"items":[]}',
        b'{"items":[{"id":1}],"batch"}',
        b'{"items":[{"id":1}] "batch":"x"}',
        b'{"items":[{"id":1} {"id":2}]}',
        b'{"items":[{"id":1}]',
        b'{"items":[{"id":1',
        b'{"items":[{"id":',
        b'{"items":[{"id"',
        b'{"items":[{',
        b'{"items":[',
        b'{"items":',
        b'{"items"',
        b"{",
        b" ",
        b"",
    ],
)
def test_misplaced_separators_are_never_accepted(body: bytes) -> None:
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(body)
    assert not raw_says(SCHEMA, body, LIMITS)
    assert not raw_says(True, body, LIMITS)


@needs_extension
@pytest.mark.parametrize(
    "body",
    [
        b' { "items" : [ { "id" : 1 , "name" : "a" } , { "id" : 2 } ] , "batch" : "b" } ',
        b'\n{\n\t"items":\r\n[\n{"id":1}\n]\n}\n',
        b'{"items":[ ]}',
        b'{"items":[{"id":1,"tags":[ ]}]}',
    ],
)
def test_spaced_out_valid_bodies_still_take_the_fast_path(body: bytes) -> None:
    assert _verdicts(body) == (True, True)
