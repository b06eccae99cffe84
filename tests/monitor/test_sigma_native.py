"""The C matcher (``sigma/native.py`` + csrc/sigma/_native.c) must decide exactly like the
Python path it hands odd events to (generated plan, then interpreted): same rules, same order,
same exceptions — over every modifier/condition case with random and hostile values, the
bundled rules' cases and the benchmark corpus; and it must really decide the plain events
itself (an equivalence that only ever falls back proves nothing)."""

from __future__ import annotations

import dataclasses
import gc
import math
import random
import weakref
from typing import Any

import pytest

from ringfence.monitor.events import Event
from ringfence.monitor.sigma import native
from ringfence.monitor.sigma.engine import MAX_SOURCES, RuleSet
from tests.monitor.test_sigma import CASES, ev, rule
from tests.monitor.test_sigma_codegen import CORPUS_EVENTS, POOL, _bench_module, _doc

NATIVE = native.NATIVE
pytestmark = pytest.mark.skipif(NATIVE is None, reason="the C extension is not built")


class _Str(str):
    """A str subclass with its own lower(): the C plan must leave it to Python."""

    def lower(self) -> str:
        return "foo"


class _Dict(dict):  # type: ignore[type-arg]
    pass


# Beyond the codegen pool: text the memos do not keep, non-ASCII case mappings (one of them
# changes length), lone surrogates, special floats, subclasses, deep and wide structures.
HOSTILE: list[Any] = [
    *POOL,
    "x" * 300,
    "FOO" * 100_000,
    "foo" + "é" * 300,
    "İSTANBUL",
    "STRASSE ß",
    "ΣΊΣΥΦΟΣ",
    "\ud800foo",
    "\x00foo\x00",
    float("nan"),
    float("inf"),
    -0.0,
    1e300,
    2**63,
    -(2**80),
    _Str("bar"),
    _Dict(b="foo"),
    [[["foo"]]],
    {"b": {"c": {"d": {"e": "foo"}}}},
    b"foo",
    ("foo",),
]


def _outcome(fn: Any, e: Event) -> Any:
    try:
        return [r.key for r in fn(e)]
    except Exception as exc:  # the same exception type on both paths is the same decision
        return type(exc)


class _Counting:
    """The Python path, counting the events the C matcher hands over."""

    def __init__(self, rs: RuleSet) -> None:
        self.rs = rs
        self.calls = 0

    def __call__(self, e: Event) -> Any:
        self.calls += 1
        return self.rs.match_python(e)


def _counting_matcher(rs: RuleSet) -> tuple[Any, _Counting]:
    assert NATIVE is not None
    fallback = _Counting(rs)
    return NATIVE.Matcher(rs._native_plan, fallback, MAX_SOURCES), fallback


def _hostile_doc(rng: random.Random, depth: int) -> dict[str, Any]:
    out = _doc(rng, depth)
    for k in list(out):
        if rng.random() < 0.4:
            out[k] = rng.choice(HOSTILE)
    return out


@pytest.mark.parametrize(("detection", "raw", "expected"), CASES)
def test_native_matcher_equals_the_python_path_on_every_case(
    detection: str, raw: dict[str, Any], expected: bool
) -> None:
    rs = rule(detection)
    assert rs.match is not rs.match_python  # the C matcher is in use
    assert bool(rs.match(ev(raw))) is expected
    rng = random.Random(detection)
    for _ in range(40):
        d = dict(raw)
        for k in list(d):
            if rng.random() < 0.5:
                d[k] = rng.choice(HOSTILE)
        d.update(_hostile_doc(rng, 2))
        for e in (ev(d), ev({}, ocsf=d), ev(d, ocsf=_hostile_doc(rng, 2))):
            assert _outcome(rs.match, e) == _outcome(rs.match_python, e), (e.ocsf, e.raw)


def test_the_native_matcher_decides_plain_events_itself_and_hands_odd_ones_over() -> None:
    rs = rule("sel: {a: [foo, bar], b|contains: oo}\nflt: {c|gte: 5}\ncondition: sel and not flt")
    match, fallback = _counting_matcher(rs)
    plain = [{"a": "FOO", "b": "xoox"}, {"a": "bar", "b": "oo", "c": 4}, {"a": "baz"}, {}]
    assert [bool(match(ev(d))) for d in plain] == [True, True, False, False]
    assert fallback.calls == 0
    odd = [
        {"a": ["foo"], "b": "oo"},  # a list: any element
        {"a": _Str("x"), "b": "oo"},  # a str subclass lower-cases itself
        {"a": "foo", "b": "oo", "c": 10**400},  # too large for a float
        {"a": {"x": 1}},  # an object where a value is expected
        {"a": "foo", "b": "oo", "c": b"5"},
    ]
    for d in odd:
        e = ev(d)
        assert _outcome(match, e) == _outcome(rs.match_python, e), d
    assert fallback.calls == len(odd)
    assert [bool(match(ev(d))) for d in odd[:2]] == [True, True]
    with pytest.raises(OverflowError):  # as the Python path has always done
        match(ev(odd[2]))
    non_dict = dataclasses.replace(ev({}), raw=["a", "foo"])
    assert match(non_dict) == rs.match_python(non_dict) == []


def test_native_and_python_paths_agree_over_random_nested_documents() -> None:
    text = """
title: indexed with residual
id: 5f0d4e2a-1111-4222-8333-000000000001
logsource: {product: test}
detection:
  sel: {a: [foo, bar], b|contains: oo}
  flt: {c|gte: 5}
  condition: sel and not flt
---
title: two conditions
id: 5f0d4e2a-1111-4222-8333-000000000002
logsource: {product: test}
detection:
  one: {a: foo, f|cidr: 10.0.0.0/8}
  two: {b|startswith: FOO, d|lt: 0}
  condition: [one, two]
---
title: 1 of, cased, null, exists, re, bool, number
id: 5f0d4e2a-1111-4222-8333-000000000003
logsource: {product: test}
detection:
  s1: {g|cased: Foo}
  s2: {d: null}
  s3: {a.b|exists: true, status: [401, 403]}
  s4: {path|re: '^/ad[m]in', status|neq: 404}
  s5: {f: true, g|endswith: [R, ar]}
  na: {a: bar}
  condition: 1 of s* and not na
---
title: keywords and field references
id: 5f0d4e2a-1111-4222-8333-000000000004
logsource: {product: test}
detection:
  kw: [foo]
  ref: {a|fieldref: b}
  condition: kw or ref
"""
    rs = RuleSet.from_yaml(text)
    assert not rs.problems, rs.problems
    match, fallback = _counting_matcher(rs)
    rng = random.Random(11)
    n = 3000
    decided = 0
    for _ in range(n):
        raw, ocsf = _hostile_doc(rng, 3), _hostile_doc(rng, 2)
        e = ev(raw, ocsf=ocsf)
        before = fallback.calls
        got = _outcome(match, e)
        decided += fallback.calls == before
        assert got == _outcome(rs.match_python, e), (ocsf, raw)
        assert got == _outcome(rs.match_interpreted, e), (ocsf, raw)
    assert decided > n // 10  # plain enough documents are decided in C


def test_native_matcher_equals_the_python_path_over_the_bench_corpus() -> None:
    """RINGFENCE_SIGMA_CORPUS_EVENTS events of the benchmark (default 50,000)."""
    bench = _bench_module()
    rs = bench.bench_ruleset()
    match, fallback = _counting_matcher(rs)
    events = bench.parse_all(bench.make_records(CORPUS_EVENTS))
    matched = 0
    for e in events:
        got = [r.key for r in match(e)]
        assert got == [r.key for r in rs.match_python(e)], (e.ocsf, e.raw)
        matched += len(got)
    assert matched > len(events) // 4
    # only the records with list fields (Slack scopes, Entra targets) go back to Python
    assert fallback.calls < len(events) // 20


def test_bundled_rule_cases_decide_alike_in_c() -> None:
    from ringfence.monitor.parsers import parser_for
    from ringfence.monitor.samples import PARSER_SOURCE, sample

    rs = RuleSet.bundled()
    checked = 0
    for r in rs.rules:
        for case in r.tests:
            record = case.get("record") or case.get("raw") or case.get("event")
            source = case.get("source") or r.product
            if not isinstance(record, dict) or not isinstance(source, str):
                continue
            try:
                events = parser_for(PARSER_SOURCE.get(source, source))(sample(source, record))
            except Exception:  # a case written for another shape: not this test's topic
                continue
            for e in events:
                assert _outcome(rs.match, e) == _outcome(rs.match_python, e)
                checked += 1
    assert checked >= 20


def test_index_memo_stays_bounded_and_huge_texts_are_not_kept() -> None:
    rs = rule("sel: {a: [foo, bar]}\ncondition: sel")
    for i in range(10_000):
        assert not rs.match(ev({"a": f"v{i}"}))
    assert rs.match(ev({"a": "FOO"}))
    assert rs.match(ev({"a": "Bar"}))
    big = "FOO" + "x" * 1_000_000
    assert not rs.match(ev({"a": big}))
    plan = next(iter(rs._plans.values()))
    _fields, blocks, _view = plan.native.spec
    memos = [step[2] for step in blocks[0] if step[0] == native.INDEX]
    assert memos and all(len(m) <= 4096 for m in memos)
    assert all(big not in m for m in memos)


def test_numbers_read_from_text_and_special_floats_compare_like_python() -> None:
    rs = rule("sel: {a|gt: 3}\ncondition: sel")
    assert rs.match(ev({"a": 4})) and not rs.match(ev({"a": "nope"}))
    for v in (math.nan, math.inf, -math.inf, True, None, "  5  ", "5e0", "0x10", "1_0", "\u0665"):
        e = ev({"a": v})
        assert _outcome(rs.match, e) == _outcome(rs.match_python, e), v
    assert rs.match(ev({"a": "  5  "})) and rs.match(ev({"a": "1_0"}))


def test_an_error_raised_by_a_python_test_takes_the_python_path() -> None:
    rs = rule("sel: {a|re: 'x'}\ncondition: sel")
    match, fallback = _counting_matcher(rs)
    plan = rs._plan("test", "audit").native
    _fields, blocks, _view = plan.spec
    (regex,) = _nodes(blocks[0][0][2], native.REGEX)
    memo = regex[3]
    memo["boom"] = _Boom()  # an answer whose truth raises TypeError
    e = ev({"a": "boom"})
    assert _outcome(match, e) == _outcome(rs.match_python, e)
    assert fallback.calls == 1


def _nodes(node: Any, op: int) -> list[Any]:
    """The nodes of kind ``op`` in a spec node."""
    if node[0] in (native.AND, native.OR):
        return [n for kid in node[1] for n in _nodes(kid, op)]
    if node[0] == native.NOT:
        return _nodes(node[1], op)
    return [node] if node[0] == op else []


class _Boom:
    def __bool__(self) -> bool:
        raise TypeError("no truth")


@pytest.mark.parametrize(
    "spec",
    [
        (),
        ((), (), None),
        ((), ((),), 5),  # the view type is not callable
        (((),), (((0, None, None),),), dict),  # a field without paths
        (((9, ("a",)),), ((),), dict),  # not a tuple of paths
        ((((0, ("a",)),),), (((0, None, (3, 7, None, (), (), ())),),), dict),  # slot range
        ((((0, ("a",)),),), (((0, None, (99, 0)),),), dict),  # unknown op
        ((((0, ("a",)),),), (((0, None, (4, 0, (1,))),),), dict),  # nums must be floats
        ((((0, ("a",)),),), (((0, None, (5, 0, 9, 1.0)),),), dict),  # comparison operator
        ((((0, ("a",)),),), (((1, 0, {}, []),),), dict),  # dispatch must be a dict
        ((((0, ("a", 1)),),), (((1, 0, {}, {}),),), dict),  # keys must be str
        ((((0, ("a",)),),), (((0, None, (0, ())),),), dict),  # empty and
    ],
)
def test_malformed_plan_specs_are_refused(spec: Any) -> None:
    assert NATIVE is not None
    with pytest.raises((ValueError, TypeError)):
        NATIVE.Plan(spec)


def test_a_dispatch_entry_pointing_outside_the_plan_is_an_error_not_a_crash() -> None:
    assert NATIVE is not None
    spec = ((((0, ("a",)),),), (((1, 0, {}, {"x": 5}),),), dict)
    plan = NATIVE.Plan(spec)
    with pytest.raises(SystemError):
        plan.run({}, {"a": "X"})
    assert plan.run({}, {"a": "y"}) == []
    assert plan.run({}, {"a": ["x"]}) is None  # a list: left to Python


def test_switching_the_extension_off_leaves_the_python_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(native.ENV, "0")
    assert native.load_native() is None
    monkeypatch.setenv(native.ENV, "1")
    assert native.load_native() is NATIVE


def test_rule_sets_with_a_native_matcher_are_collected() -> None:
    rs = rule("sel: {a: foo}\ncondition: sel")
    assert rs.match(ev({"a": "foo"}))
    ref = weakref.ref(rs)
    del rs
    gc.collect()
    assert ref() is None


class _DuckEvent:
    """Not an ``Event``: attributes in an instance dict, read by getattr."""

    def __init__(self, raw: Any) -> None:
        self.product, self.service, self.ocsf, self.raw = "test", "audit", {}, raw


class _PropertyEvent:
    __slots__ = ("_raw", "ocsf", "product", "service")

    def __init__(self, raw: Any) -> None:
        self._raw, self.ocsf, self.product, self.service = raw, {}, "test", "audit"

    @property
    def raw(self) -> Any:  # a property, not a slot: never read at a slot offset
        return self._raw


def test_events_of_other_types_and_missing_attributes_are_read_by_getattr() -> None:
    rs = rule("sel: {a: foo}\ncondition: sel")
    assert rs.match(ev({"a": "foo"}))  # the slot offsets of Event are learnt
    for cls in (_DuckEvent, _PropertyEvent):
        e: Any = cls({"a": "FOO"})
        assert [r.key for r in rs.match(e)] == [r.key for r in rs.match_python(e)]
        assert rs.match(e)
        assert not rs.match(cls({"a": "bar"}))
    assert rs.match(ev({"a": "foo"}))
    # a fresh matcher that first sees the property type, then Events
    match, fallback = _counting_matcher(rs)
    assert match(_PropertyEvent({"a": "foo"})) and match(ev({"a": "foo"}))
    assert fallback.calls == 0
    unset = _PropertyEvent({"a": "foo"})
    del unset.product
    for fn in (rs.match, rs.match_python, match):
        with pytest.raises(AttributeError):
            fn(unset)
    with pytest.raises(AttributeError):
        rs.match(object())
    with pytest.raises(TypeError):
        rs.match()  # type: ignore[call-arg]


def test_a_changed_event_type_is_read_by_getattr_again() -> None:
    @dataclasses.dataclass(slots=True)
    class Local:
        product: str
        service: str
        ocsf: Any
        raw: Any

    rs = rule("sel: {a: foo}\ncondition: sel")
    match, _fallback = _counting_matcher(rs)
    assert match(Local("test", "audit", {}, {"a": "foo"}))
    e = Local("test", "audit", {}, {"a": "bar"})
    assert not match(e)
    # the slot still holds {"a": "bar"}; the property now in its place decides
    Local.raw = property(lambda self: {"a": "foo"})  # type: ignore[assignment,method-assign]
    assert match(e)


class _ClearingKey:
    """A key equal-hashed to ``name`` whose comparison empties ``victim``: Python code run in
    the middle of a dict lookup (only an event built in Python can hold one)."""

    def __init__(self, name: str, victim: dict[Any, Any]) -> None:
        self.name, self.victim = name, victim

    def __hash__(self) -> int:
        return hash(self.name)

    def __eq__(self, other: object) -> bool:
        self.victim.clear()
        return False


def test_a_lookup_that_runs_code_and_empties_the_record_is_safe() -> None:
    rs = rule("sel: {a.b: foo, c: bar}\ncondition: sel")
    for _ in range(3):
        raw: dict[Any, Any] = {}
        inner: dict[Any, Any] = {}
        inner[_ClearingKey("b", raw)] = 1
        inner["b"] = "foo"
        raw["a"] = inner
        raw["c"] = "bar"
        del inner  # only the record holds it: emptying the record frees it mid-walk
        e = ev(raw)
        got = _outcome(rs.match, e)
        raw2: dict[Any, Any] = {}
        inner2: dict[Any, Any] = {_ClearingKey("b", raw2): 1, "b": "foo"}
        raw2.update(a=inner2, c="bar")
        del inner2
        assert got == _outcome(rs.match_python, ev(raw2))


def test_a_plan_the_extension_refuses_leaves_its_events_to_python(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(native, "program", lambda unindexed, indexes: ("not", "a", "plan"))
    rs = rule("sel: {a: foo}\ncondition: sel")
    match, fallback = _counting_matcher(rs)
    assert rs._plan("test", "audit").native is None
    assert match(ev({"a": "foo"})) and not match(ev({"a": "bar"}))
    assert fallback.calls == 2
