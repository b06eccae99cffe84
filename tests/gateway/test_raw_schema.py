"""The C check of raw JSON bodies (``schema.compile_raw``, ``csrc/gateway/_rawschema.c``).

It is one-sided: True lets a body skip orjson, the structure walk and the Python schema
check, so True must only ever be said of a body the Python path accepts. Searched for
counterexamples with random schemas' documents written in many byte forms (whitespace,
escapes, number forms, duplicate keys, Unicode) and with hostile bytes; and it must say True
for ordinary valid bodies, or it saves nothing.
"""

from __future__ import annotations

import json
import os
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ringfence.gateway import schema as schema_mod
from ringfence.gateway.routes import LimitsSpec
from ringfence.gateway.schema import RouteValidator, compile_raw
from ringfence.gateway.stages import Deny
from tests.gateway.test_schema_compiler import SCHEMAS
from tests.gateway.test_structure_fast_path import BOUNDED, CLOSED, validated

needs_extension = pytest.mark.skipif(
    schema_mod._RawProgram is None, reason="the _rawschema extension is not built"
)


def test_the_extension_is_built_in_ci() -> None:
    """Optional for a user's build (bodies then take the Python path), required in CI."""
    if os.environ.get("RINGFENCE_REQUIRE_SERVICES") == "1":
        assert schema_mod._RawProgram is not None, "csrc/gateway/_rawschema.c was not built"


EXTRA: list[dict[str, Any]] = [
    {
        "type": "object",
        "properties": {
            "status": {"enum": ["open", "closed", "é"]},
            "kind": {"const": "a"},
            "n": {"type": "integer", "minimum": -3, "exclusiveMaximum": 7.5},
            "r": {"type": "number", "exclusiveMinimum": 0, "maximum": 1e3},
            "name": {"type": "string", "minLength": 2, "maxLength": 3},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2},
            "meta": {"type": "object", "additionalProperties": {"type": ["integer", "null"]}},
        },
        "required": ["status", "x"],
        "additionalProperties": {"type": "boolean"},
        "maxProperties": 6,
    },
    {"type": ["integer", "string"], "maximum": 3, "maxLength": 1},
    {"type": "array", "items": False},
    {"type": "object", "additionalProperties": False},
    {"type": "object", "properties": {"a\u00e9": {"type": "null"}}, "required": ["a\u00e9"]},
    {"type": "number", "minimum": 2**60},
    {"enum": ["a", "b"], "const": "a"},
    # string enums and consts with no type: no object, array or scalar of another type fits
    {"enum": ["a", "b"]},
    {"const": "admin"},
    {"enum": []},
    {
        "type": "object",
        "properties": {"role": {"enum": ["viewer", "editor"]}},
        "required": ["role"],
        "additionalProperties": False,
    },
    {"maxLength": -1, "maxItems": -1, "maxProperties": -1},
]
CORPUS = [*SCHEMAS, *BOUNDED, CLOSED, EXTRA[0], *EXTRA[1:], True]

KEYS = ["a", "b", "x", "name", "status", "kind", "n", "r", "tags", "meta", "items", "id", "aé"]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-10, 10)
    | st.integers(-(2**70), 2**70)
    | st.floats(-5, 1e4, allow_nan=False)
    | st.sampled_from(["open", "closed", "é", "a", "ab", "abc", "abcd", "", "\u2028", "😀x"])
    | st.text(max_size=6)
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.sampled_from(KEYS), children, max_size=5)
    ),
    max_leaves=14,
)


def write(value: Any, data: st.DataObject) -> bytes:
    """``value`` as JSON text in a randomly chosen byte form (same value, or a near one)."""
    sp = data.draw(st.sampled_from(["", " ", "\n\t ", "\r\n"]))

    def w(v: Any) -> str:
        if isinstance(v, dict):
            items = list(v.items())
            if items and data.draw(st.integers(0, 7)) == 0:
                items.insert(0, items[-1])  # a duplicate key (orjson keeps the last)
            return "{" + sp + ("," + sp).join(f"{s(k)}{sp}:{sp}{w(x)}" for k, x in items) + "}"
        if isinstance(v, list):
            return "[" + sp + ("," + sp).join(w(x) for x in v) + sp + "]"
        if isinstance(v, str):
            return s(v)
        if isinstance(v, bool) or v is None:
            return json.dumps(v)
        if isinstance(v, int):
            form = data.draw(st.integers(0, 5))
            if form == 0:
                return f"{v}.0"
            if form == 1:
                return f"{v}e0"
            if form == 2 and v == 0:
                return "-0"
            return str(v)
        return repr(float(v))

    def s(text: str) -> str:
        form = data.draw(st.integers(0, 4))
        if form == 0:
            return json.dumps(text)  # \\u escapes for everything non-ASCII
        if form == 1:
            return '"' + "".join(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else c for c in text) + '"'
        if form == 2:
            return json.dumps(text).replace("/", "\\/")
        return json.dumps(text, ensure_ascii=False)

    return (sp + w(value) + sp).encode("utf-8", "surrogatepass")


def python_path(schema: Any, body: bytes, limits: LimitsSpec) -> Any:
    """The gateway's decision with the C check off."""
    validator = RouteValidator(schema) if schema is not True else None
    if validator is not None:
        validator.raw = None
    saved = schema_mod_caps()
    try:
        set_caps(None)
        validated(validator, body, limits)
    except Deny as d:
        return (d.status, d.code)
    finally:
        set_caps(saved)
    return "ok"


def schema_mod_caps() -> Any:
    import ringfence.gateway.stages as stages

    return stages._CAPS_ONLY


def set_caps(value: Any) -> None:
    import ringfence.gateway.stages as stages

    stages._CAPS_ONLY = value


def raw_says(schema: Any, body: bytes, limits: LimitsSpec) -> bool:
    program = compile_raw(schema)
    if program is None:
        return False
    return bool(
        program.valid(body, limits.max_depth, limits.max_array_items, limits.max_string_length)
    )


@needs_extension
@pytest.mark.parametrize("schema", CORPUS, ids=[str(i) for i in range(len(CORPUS))])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=values,
    data=st.data(),
    max_depth=st.integers(1, 5),
    max_items=st.sampled_from([2, 10_000]),
    max_string=st.sampled_from([2, 1_048_576]),
)
def test_true_only_for_bodies_the_python_path_accepts(
    schema: Any,
    value: Any,
    data: st.DataObject,
    max_depth: int,
    max_items: int,
    max_string: int,
) -> None:
    body = write(value, data)
    limits = LimitsSpec(
        max_depth=max_depth, max_array_items=max_items, max_string_length=max_string
    )
    if raw_says(schema, body, limits):
        assert python_path(schema, body, limits) == "ok", body


@needs_extension
@pytest.mark.parametrize("schema", CORPUS, ids=[str(i) for i in range(len(CORPUS))])
@settings(max_examples=60, deadline=None)
@given(
    body=st.binary(max_size=40)
    | st.text(alphabet='{}[]",:0123456789.-eE tfnulr\\u/', max_size=30).map(str.encode)
)
def test_true_only_for_well_formed_bodies_on_arbitrary_bytes(schema: Any, body: bytes) -> None:
    limits = LimitsSpec()
    if raw_says(schema, body, limits):
        orjson.loads(body)  # must not raise
        assert python_path(schema, body, limits) == "ok", body


HOSTILE = [
    b"",
    b" ",
    b"[" * 10_000 + b"]" * 10_000,
    b'{"a":' * 300 + b"1" + b"}" * 300,
    b'"\\ud800"',
    b'"\\udc00\\ud800"',
    b'"\xed\xa0\x80"',  # an encoded surrogate
    b'"\xc0\xaf"',  # overlong
    b'"\xf4\x90\x80\x80"',  # above U+10FFFF
    b'"\xe2\x82"',  # truncated
    b'"abc',
    b'"a\tb"',
    b"1e400",
    b"123456789012345678901234567890",
    b"01",
    b"1.",
    b"-",
    b".5",
    b"[1,]",
    b'{"a":1,}',
    b'{"a" 1}',
    b"[1 2]",
    b"nul",
    b"truex",
    b"NaN",
    b"Infinity",
    b"{}x",
    b"\xef\xbb\xbf{}",  # a byte-order mark
]


@needs_extension
@pytest.mark.parametrize("body", HOSTILE, ids=[str(i) for i in range(len(HOSTILE))])
def test_hostile_bodies_are_never_waved_through(body: bytes) -> None:
    limits = LimitsSpec()
    try:
        orjson.loads(body)
        well_formed = True
    except orjson.JSONDecodeError:
        well_formed = False
    if not well_formed:
        assert not raw_says(True, body, limits)
    for schema in CORPUS:
        if raw_says(schema, body, limits):
            assert well_formed and python_path(schema, body, limits) == "ok", (schema, body)


@needs_extension
def test_ordinary_valid_bodies_take_the_fast_path() -> None:
    """If these fell back, the check would cost time and save none."""
    from bench.gateway_helpers import ITEM_SCHEMA, body_4k

    limits = LimitsSpec()
    assert raw_says(ITEM_SCHEMA, body_4k(), limits)
    assert raw_says(True, body_4k(), limits)
    doc = {"status": "open", "x": True, "n": 6, "r": 1, "name": "abé", "tags": ["t"]}
    assert raw_says(EXTRA[0], orjson.dumps(doc), limits)
    # a fraction under numeric bounds is left to Python (C compares exact integers only)
    assert not raw_says(EXTRA[0], orjson.dumps({**doc, "r": 0.5}), limits)
    assert raw_says({"type": "number"}, b"0.5", limits)
    assert raw_says(CLOSED, orjson.dumps({"items": [{"id": 1, "tags": ["ab", "é😀"]}]}), limits)
    # and the refusals the Python path names still reach it
    assert not raw_says(ITEM_SCHEMA, body_4k().replace(b'"note"', b'"nope"', 1), limits)
    assert not raw_says(EXTRA[0], orjson.dumps({**doc, "status": "other"}), limits)
    assert not raw_says(EXTRA[0], orjson.dumps({**doc, "n": 8}), limits)
    assert not raw_says(EXTRA[0], orjson.dumps({k: v for k, v in doc.items() if k != "x"}), limits)
    assert not raw_says(CLOSED, orjson.dumps({"items": [{"id": 1, "tags": ["abc"]}]}), limits)
    # found by review: a container where a string enum / const is required
    role = EXTRA[-2]
    for body in (b'{"role":{"$ne":"x","admin":true}}', b'{"role":["viewer"]}', b'{"role":1}'):
        assert not raw_says(role, body, limits)
        assert python_path(role, body, limits) == (400, "schema_violation")
    assert raw_says(role, b'{"role":"editor"}', limits)
    for schema in ({"enum": ["a", "b"]}, {"const": "admin"}, {"enum": []}):
        for body in (b"{}", b"[1,2]", b'{"x":1}', b"[]", b"null", b"true", b"1"):
            assert not raw_says(schema, body, limits)
    assert not raw_says({"maxLength": -1}, b'"abc"', limits)
    assert not raw_says(True, b"[[[1]]]", LimitsSpec(max_depth=2))
    assert not raw_says(True, b"[1,2,3]", LimitsSpec(max_array_items=2))
    assert not raw_says(True, b'["abc"]', LimitsSpec(max_string_length=2))
    assert not raw_says(True, b'{"abc":1}', LimitsSpec(max_string_length=2))


@needs_extension
def test_a_malformed_program_is_refused() -> None:
    from ringfence.gateway._rawschema import Program

    any_node = (0x7F, 0, 0, -1, 0, -1, -1, -1, -1, None, None, None, None, (), None)
    Program([any_node])
    with pytest.raises(ValueError):
        Program([])
    with pytest.raises(ValueError):
        Program([(*any_node[:7], 5, *any_node[8:])])  # items node out of range
    with pytest.raises(ValueError):
        Program([(*any_node[:13], ((b"k", 0, 64),), None)])  # required bit out of range
    with pytest.raises(TypeError):
        Program([(*any_node[:13], (("k", 0, 0),), None)])  # key not bytes
    with pytest.raises(TypeError):
        Program.valid(Program([any_node]), b"{}")  # type: ignore[call-arg]


@needs_extension
def test_keys_match_by_their_bytes_whatever_their_length_and_place() -> None:
    """Keys of up to 8 bytes are compared as one 8-byte word when the body has 8 bytes from
    the key on, byte by byte otherwise: both ways must find exactly the declared keys."""
    names = ["", "a", "ab", "abc", "abcdefg", "abcdefgh", "abcdefghi", "b", "ba", "abcdefgX"]
    schema = {
        "type": "object",
        "properties": {n: {"type": "integer"} for n in names[:7]},
        "additionalProperties": False,
    }
    limits = LimitsSpec()
    for name in names:
        for pad in ("", ' ,"abc":1', ',"a":2,"ab":3,"abcdefghi":4'):
            body = b'{"' + name.encode() + b'":1' + pad.encode() + b"}"
            if pad.startswith(" ,"):
                body = b'{"' + name.encode() + b'":1 ,"abc":1}'
            expected = python_path(schema, body, limits) == "ok"
            assert raw_says(schema, body, limits) == expected, body
    # a declared key near the end of the body (fewer than 8 bytes left): byte by byte
    assert raw_says(schema, b'{"a":1}', limits)
    assert raw_says(schema, b'{"abc":1,"b":2}', limits) is False
    assert python_path(schema, b'{"abc":1,"b":2}', limits) != "ok"


def test_declared_keys_spelled_plainly_are_found_before_reading_the_key() -> None:
    """A declared key spelled plainly (its bytes, then the closing quote) is matched without
    reading the key as a string first: it must find exactly the key the string read finds —
    never a key that only starts the same, never one declared with a quote or backslash (those
    go through the string read, which decides), and the key-length cap still counts."""
    names = ["id", "idx", "i", 'q"t', "a\\b", "ünï", "description_long", "d"]
    schema = {
        "type": "object",
        "properties": {n: {"type": "integer"} for n in names},
        "required": ["id"],
        "additionalProperties": False,
    }
    bodies = [
        b'{"id":1}',
        b'{"idx":1,"id":2}',
        b'{"id":1,"idxx":2}',
        b'{"i":1,"id":2}',
        b'{"id":1,"q\\"t":2}',
        b'{"id":1,"a\\\\b":2}',
        b'{"id":1,"\\u0069d":2}',
        b'{"\\u0069d":1}',
        '{"id":1,"ünï":2}'.encode(),
        b'{"id":1,"description_long":2}',
        b'{"id":1,"description_lon":2}',
        b'{"id":1,"description_longer":2}',
        b'{"id":1,"d":2}',
        b'{"id":1,"d',
        b'{"id',
        b'{"id"',
        b'{"id":1 , "d" :2}',
    ]
    for max_string in (1, 2, 3, 1_048_576):
        limits = LimitsSpec(max_string_length=max_string)
        for body in bodies:
            expected = python_path(schema, body, limits) == "ok"
            said = raw_says(schema, body, limits)
            assert not said or expected, (body, max_string)
            # the plain spellings of declared keys are decided natively, as before
            if b"\\" not in body and max_string > 16:
                assert said == expected, (body, max_string)
