"""A valid document under a depth-bounding route schema skips the structure walk — with the
same decision as always walking (equivalence over the schema corpus and random documents).

This is the Python path: a body the C check (``schema.compile_raw``) does not accept as
certainly valid. That check is off here (``_outcome``) and tested in ``test_raw_schema.py``."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ringfence.gateway.routes import LimitsSpec
from ringfence.gateway.schema import RouteValidator, depth_bound
from ringfence.gateway.stages import Deny, Exchange, validate
from tests.gateway.test_schema_compiler import SCHEMAS, json_values

BOUNDED: list[dict[str, Any]] = [
    {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"id": {"type": "integer"}, "tags": {"type": "array"}},
                    "additionalProperties": False,
                },
            }
        },
        "additionalProperties": False,
    },
    {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
    {"type": ["array", "object"], "items": {"type": "string"}, "additionalProperties": False},
    {"type": "array", "uniqueItems": True, "items": {"type": "array"}},
    {"enum": [[[1]], {"a": [2]}, 3]},
]
CLOSED = {
    "type": "object",
    "properties": {
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "tags": {"type": "array", "items": {"type": "string", "maxLength": 2}},
                },
                "required": ["id"],
                "additionalProperties": False,
            },
        }
    },
    "additionalProperties": False,
}
CORPUS = [*SCHEMAS, *BOUNDED, CLOSED]


def test_depth_bounds() -> None:
    assert depth_bound(BOUNDED[0]) is None  # "tags" is an unconstrained array
    assert depth_bound(CLOSED) == 4
    assert depth_bound(BOUNDED[1]) == 2
    assert depth_bound(BOUNDED[2]) == 1
    assert depth_bound(BOUNDED[3]) is None  # uniqueItems: no bound claimed
    assert depth_bound(BOUNDED[4]) == 2
    assert depth_bound({"type": "object"}) is None  # open additionalProperties
    assert depth_bound({"type": "string"}) == 0
    assert depth_bound({}) is None
    assert depth_bound(False) == 0
    unsupported = {"type": "array", "items": [{"type": "integer"}]}
    assert RouteValidator(unsupported).depth_bound is None  # not compiled: no bound used


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def validated(validator: RouteValidator | None, body: bytes, limits: LimitsSpec) -> Exchange:
    """``stages.validate`` of a JSON POST ``body`` on a route with ``limits`` and ``validator``
    (raises ``Deny`` as the gateway would)."""
    ex = Exchange(
        request_id="r",
        method="POST",
        path="/x",
        query=b"",
        headers={b"content-type": b"application/json"},
        client_ip=None,
        body=body,
    )
    ex.route = SimpleNamespace(limits=limits, content_types=frozenset({"application/json"}))  # type: ignore[assignment]
    ex.op = SimpleNamespace(request_validator=validator)  # type: ignore[assignment]
    validate(ex)
    return ex


def _outcome(
    schema: dict[str, Any], doc: Any, limits: LimitsSpec, fast: bool, raw: bool = False
) -> Any:
    """The Python path's decision (``raw``: with the C check of the raw body first, which
    ``test_raw_schema.py`` tests; here it is off so the Python path is what is tested)."""
    validator = RouteValidator(schema)
    if not raw:
        validator.raw = None
    if not fast:
        validator.depth_bound = None  # the slow path: always walk, then validate
    try:
        ex = validated(validator, orjson.dumps(doc), limits)
    except Deny as d:
        return (d.status, d.code)
    return ("ok", orjson.dumps(ex.document))


# Random JSON plus documents shaped like the bounded schemas (valid ones and near misses), so
# both the skipped walk and the walked path are exercised.
ints = st.integers(0, 3)
scalars = ints | st.text(alphabet="ab", max_size=3)
shaped = (
    st.lists(st.lists(ints, max_size=4), min_size=1, max_size=6)  # valid for BOUNDED[1]
    | st.lists(st.lists(scalars, max_size=4), max_size=5)
    | st.lists(scalars, max_size=5)
    | st.fixed_dictionaries(
        {
            "items": st.lists(
                st.fixed_dictionaries(
                    {"id": ints | st.just("x")},
                    optional={"tags": st.lists(st.text(alphabet="ab", max_size=3), max_size=3)},
                ),
                max_size=6,
            )
        }
    )
)
closed_values = json_values | shaped | st.lists(shaped, max_size=3)


@pytest.mark.parametrize("schema", CORPUS, ids=[str(i) for i in range(len(CORPUS))])
@settings(max_examples=80, deadline=None)
@given(
    doc=closed_values,
    max_depth=st.integers(1, 6),
    max_items=st.sampled_from([2, 10_000]),
    max_string=st.sampled_from([3, 1_048_576]),
)
def test_fast_path_decides_exactly_like_the_walk(
    schema: dict[str, Any], doc: Any, max_depth: int, max_items: int, max_string: int
) -> None:
    limits = LimitsSpec(
        max_depth=max_depth, max_array_items=max_items, max_string_length=max_string
    )
    assert _outcome(schema, doc, limits, fast=True) == _outcome(schema, doc, limits, fast=False)


@pytest.mark.parametrize("schema", CORPUS, ids=[str(i) for i in range(len(CORPUS))])
@settings(max_examples=80, deadline=None)
@given(doc=closed_values)
def test_valid_documents_nest_within_the_bound(schema: dict[str, Any], doc: Any) -> None:
    v = RouteValidator(schema)
    if v.depth_bound is not None and v.is_valid(doc):
        assert _depth(doc) <= v.depth_bound


def test_too_deep_still_wins_over_schema_violation_on_the_fast_route() -> None:
    schema = BOUNDED[1]  # bound 2
    limits = LimitsSpec(max_depth=2)
    deep = [[[[1]]]] * 20  # brackets > max_depth: the walk is in question
    assert _outcome(schema, deep, limits, fast=True) == (400, "too_deep")
    assert _outcome(schema, [[1, 2]] * 20, limits, fast=True)[0] == "ok"
    assert _outcome(schema, [["x"]] * 20, limits, fast=True) == (400, "schema_violation")


def test_a_valid_document_skips_the_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    import ringfence.gateway.stages as stages

    def no_walk(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("walked")

    monkeypatch.setattr(stages, "check_structure", no_walk)
    doc = {"items": [{"id": i, "tags": ["a", "b"]} for i in range(30)]}  # 61 brackets
    assert _outcome(CLOSED, doc, LimitsSpec(max_depth=4), fast=True)[0] == "ok"
    with pytest.raises(AssertionError, match="walked"):  # invalid: walked as before
        _outcome(CLOSED, {"items": [{"id": "x"}] * 40}, LimitsSpec(max_depth=4), fast=True)
    with pytest.raises(AssertionError, match="walked"):  # bound above the cap: walked
        _outcome(CLOSED, doc, LimitsSpec(max_depth=3), fast=True)


def test_a_valid_document_skips_the_bracket_count_and_the_schema_runs_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ringfence.gateway.stages as stages

    counted: list[bytes] = []
    real_count = stages._bracket_count
    monkeypatch.setattr(stages, "_bracket_count", lambda b: counted.append(b) or real_count(b))
    runs: list[Any] = []
    real_valid = RouteValidator.is_valid
    monkeypatch.setattr(
        RouteValidator, "is_valid", lambda self, doc: runs.append(doc) or real_valid(self, doc)
    )
    doc = {"items": [{"id": i, "tags": ["a", "b"]} for i in range(30)]}
    assert _outcome(CLOSED, doc, LimitsSpec(max_depth=4), fast=True)[0] == "ok"
    assert counted == [] and len(runs) == 1  # valid: no count, one schema run
    runs.clear()
    bad = {"items": [{"id": "x"}] * 3}  # invalid: its brackets are counted, then walked
    assert _outcome(CLOSED, bad, LimitsSpec(max_depth=4), fast=True) == (400, "schema_violation")
    assert len(counted) == 1 and len(runs) == 1  # the schema is not run a second time
