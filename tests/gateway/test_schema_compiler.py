"""The compiled route-schema validator agrees with jsonschema (differential, property-based)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema.validators import validator_for

from ringfence.gateway.schema import RouteValidator, compile_schema

SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 5}},
        "required": ["name"],
        "additionalProperties": False,
    },
    {
        "type": "array",
        "items": {"type": "integer", "minimum": 0, "exclusiveMaximum": 10},
        "maxItems": 4,
        "uniqueItems": True,
    },
    {"type": ["string", "null"], "pattern": "^[a-c]+$", "minLength": 1},
    {"enum": [1, "1", True, None, [1, 2], {"a": 1}]},
    {"const": 0},
    {"type": "number", "minimum": 1.5, "maximum": 3},
    {
        "type": "object",
        "additionalProperties": {"type": "boolean"},
        "maxProperties": 2,
        "minProperties": 1,
    },
    {
        "properties": {
            "a": {
                "type": "object",
                "properties": {"b": {"type": "array", "items": {"type": "string"}}},
            }
        }
    },
    {"type": "object", "properties": {"x": {}}, "additionalProperties": False},
    {"type": "integer"},
    {},
    # a pinned type: the keywords of other types do not apply (and generate no code)
    {
        "type": "string",
        "maxItems": 0,
        "minimum": 5,
        "properties": {"a": {"type": "null"}},
        "additionalProperties": False,
        "maxLength": 3,
    },
    {"type": "integer", "minimum": 1, "maxLength": 0, "items": {"type": "string"}},
    {"type": ["array"], "items": {"type": "number", "maximum": 2}, "minLength": 9},
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-20, 20)
    | st.floats(-5, 15, allow_nan=False)
    | st.text(alphabet="abcd1", max_size=7),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.sampled_from(["a", "b", "x", "name", "role"]), children, max_size=4)
    ),
    max_leaves=12,
)


@pytest.mark.parametrize("schema", SCHEMAS, ids=[str(i) for i in range(len(SCHEMAS))])
@settings(max_examples=60, deadline=None)
@given(value=json_values)
def test_compiled_validator_matches_jsonschema(schema: dict[str, Any], value: Any) -> None:
    fast = compile_schema(schema)
    assert fast is not None
    assert fast(value) == validator_for(schema)(schema).is_valid(value)


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#/$defs/a", "$defs": {"a": {"type": "string"}}},
        {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        {"$schema": "http://json-schema.org/draft-04/schema#", "type": "integer"},
        {"patternProperties": {"^a": {"type": "string"}}},
    ],
)
def test_unsupported_keywords_fall_back_to_jsonschema(schema: dict[str, Any]) -> None:
    v = RouteValidator(schema)
    assert not v.compiled
    assert v.is_valid("abc") == validator_for(schema)(schema).is_valid("abc")


def test_property_names_cannot_inject_code() -> None:
    evil = "x'): return True\n#"
    schema = {
        "type": "object",
        "properties": {evil: {"type": "string"}},
        "additionalProperties": False,
    }
    fast = compile_schema(schema)
    assert fast is not None
    assert fast({evil: "s"}) is True
    assert fast({evil: 1}) is False
    assert fast({"other": "s"}) is False


# -- patterns run on untrusted bodies: RE2 only ------------------------------------------------

EVIL = "^(a+)+$"  # exponential for a backtracking engine on "aaa…a!"


def test_a_catastrophic_pattern_is_linear_in_both_validators() -> None:
    import time

    hostile = "a" * 50_000 + "!"
    for schema in (
        {"type": "object", "properties": {"name": {"type": "string", "pattern": EVIL}}},
        {"type": "object", "patternProperties": {EVIL: {"type": "integer"}}},  # jsonschema path
    ):
        v = RouteValidator(schema)
        doc = {"name": hostile} if "properties" in schema else {hostile: "x"}
        started = time.perf_counter()
        assert not v.is_valid(doc) if "properties" in schema else v.is_valid(doc)
        errors = list(v.iter_errors(doc))
        assert time.perf_counter() - started < 2.0  # Python's re: longer than the universe
        assert ("properties" in schema) == bool(errors)
    ok = RouteValidator({"type": "string", "pattern": EVIL})
    assert ok.is_valid("aaaa") and not ok.is_valid("aab")
    assert [e.validator for e in ok.iter_errors("aab")] == ["pattern"]


@pytest.mark.parametrize("pattern", ["(a)\\1", "(?<=a)b", "a(?=b)", "a++", "(?P<x>a)(?P=x)", "["])
def test_a_pattern_re2_cannot_compile_is_refused_when_the_route_loads(pattern: str) -> None:
    from ringfence.gateway.routes import OperationSpec

    schema = {"type": "object", "properties": {"a": {"type": "string", "pattern": pattern}}}
    with pytest.raises(ValueError, match=r"invalid JSON Schema"):
        OperationSpec(method="POST", path="/x", request_schema=schema)
    nested = {"type": "object", "patternProperties": {pattern: {}}}
    with pytest.raises(ValueError, match=r"invalid JSON Schema"):
        OperationSpec(method="POST", path="/x", request_schema=nested)


def test_a_property_named_pattern_is_not_taken_for_a_pattern() -> None:
    from ringfence.gateway.routes import OperationSpec

    schema = {"type": "object", "properties": {"pattern": {"type": "string"}}}
    OperationSpec(method="POST", path="/x", request_schema=schema)  # no error
