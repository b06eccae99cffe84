"""The generated plan functions (``sigma/codegen.py``) must decide exactly like the interpreted
path (index probe + compiled closures) and like guarded full evaluation: same rules, same order,
same exceptions — over every modifier/condition case, odd event shapes, the bundled rules'
own cases, and the detection benchmark's corpus of rules and events."""

from __future__ import annotations

import importlib.util
import os
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from ringfence.monitor.events import Event
from ringfence.monitor.sigma.engine import RuleSet
from tests.monitor.test_sigma import CASES, ev, rule

ROOT = Path(__file__).resolve().parents[2]


def _outcome(fn: Any, e: Event) -> Any:
    try:
        return [r.key for r in fn(e)]
    except Exception as exc:  # the same exception type on both paths is the same decision
        return type(exc)


def _assert_same(rs: RuleSet, e: Event) -> None:
    generated = _outcome(rs.match, e)
    assert generated == _outcome(rs.match_interpreted, e), (e.ocsf, e.raw)
    if isinstance(generated, list) and isinstance(e.ocsf, dict):
        full = sorted(r.key for r in rs.rules if r.matches(e, e.view()))
        assert sorted(generated) == full, (e.ocsf, e.raw)


# Values that exercise every branch of the inline reads and tests: scalars of each type, lists
# (fan out), dicts, None, numbers as text, an int too large for a float, mixed case.
POOL: list[Any] = [
    "Foo",
    "foo",
    "FOOBAR",
    "xfoox",
    "bar",
    "",
    " 401 ",
    "401",
    401,
    403.0,
    500,
    7,
    -3,
    0,
    True,
    False,
    None,
    10**400,
    "10.1.2.3",
    "203.0.113.9",
    "2026-01-05T03:04:05Z",
    "/admin/users",
    "c:\\windows\\system32\\cmd.exe",
    "dGVzdA==",
    ["foo", "bar"],
    [401, "x"],
    [],
    [{"b": "foo"}, {"b": 401}],
    {"b": "foo", "c": {"d": 7}},
    {"b": [1, "foo"]},
]
KEYS = ["a", "b", "c", "d", "f", "g", "a.b", "status", "path"]


def _doc(rng: random.Random, depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in rng.sample(KEYS, rng.randint(0, 5)):
        if depth > 0 and rng.random() < 0.3:
            out[k] = _doc(rng, depth - 1)
        else:
            out[k] = rng.choice(POOL)
    return out


def _variants(raw: dict[str, Any], rng: random.Random, n: int) -> list[dict[str, Any]]:
    """The case's own record, then records with some of its values replaced from the pool."""
    out = [raw]
    for _ in range(n):
        d = dict(raw)
        for k in list(d):
            if rng.random() < 0.5:
                d[k] = rng.choice(POOL)
        d.update(_doc(rng, 2))
        out.append(d)
    return out


@pytest.mark.parametrize(("detection", "raw", "expected"), CASES)
def test_generated_plan_equals_interpreted_on_every_case(
    detection: str, raw: dict[str, Any], expected: bool
) -> None:
    rs = rule(detection)
    assert bool(rs.match(ev(raw))) is expected
    rng = random.Random(detection)
    for variant in _variants(raw, rng, 40):
        _assert_same(rs, ev(variant))
        _assert_same(rs, ev({}, ocsf=variant))  # fields that fall back to the OCSF side


def test_generated_plan_with_indexes_residuals_and_several_conditions() -> None:
    text = """
title: indexed with residual
id: 5f0d4e2a-1111-4222-8333-000000000001
logsource: {product: test}
detection:
  sel: {a: [foo, bar], b|contains: oo}
  flt: {c|gte: 5}
  condition: sel and not flt
---
title: indexed alone
id: 5f0d4e2a-1111-4222-8333-000000000002
logsource: {product: test}
detection: {sel: {a: Foo}, condition: sel}
---
title: two indexes
id: 5f0d4e2a-1111-4222-8333-000000000003
logsource: {product: test}
detection: {sel: {status: '401', path|re: '^/(admin|debug)/'}, condition: sel}
---
title: several conditions
id: 5f0d4e2a-1111-4222-8333-000000000004
logsource: {product: test}
detection:
  s1: {a|startswith: fo}
  s2: {f|exists: true}
  s3: {g: null}
  condition: [s1 and s2, s3]
---
title: one of them
id: 5f0d4e2a-1111-4222-8333-000000000005
logsource: {product: test}
detection:
  sel_a: {a|endswith: oo}
  sel_b: {b|cidr: 10.0.0.0/8}
  sel_c: {c.d|lt: 8}
  condition: 1 of sel_*
---
title: any product
id: 5f0d4e2a-1111-4222-8333-000000000006
logsource: {service: audit}
detection: {sel: {a.b: foo, d|cased: Foo}, condition: sel}
"""
    rs = RuleSet.from_yaml(text)
    assert not rs.problems, rs.problems
    rng = random.Random(11)
    for _ in range(3000):
        doc = _doc(rng, 3)
        _assert_same(rs, ev(doc))
        _assert_same(rs, ev(_doc(rng, 2), ocsf=doc))


def test_plans_refuse_non_dict_records_and_the_interpreted_path_decides() -> None:
    rs = rule("sel: {a: foo}\ncondition: sel")
    odd = ev({})
    odd.raw = ["a", "foo"]  # type: ignore[assignment] - a shape no parser produces
    _assert_same(rs, odd)
    odd.raw = {"a": "foo"}
    odd.ocsf = None  # type: ignore[assignment]
    _assert_same(rs, odd)


def test_generated_source_holds_no_rule_text() -> None:
    """Rule values reach the generated code through its namespace, never as source."""
    marker = "'); import os  # x"
    rs = rule(f'sel: {{a: "{marker}", b|contains: "{marker}"}}\ncondition: sel')
    assert rs.match(ev({"a": marker, "b": f"..{marker}.."}))
    plan = next(iter(rs._plans.values()))
    assert "import os" not in plan.source


def _bench_module() -> Any:
    spec = importlib.util.spec_from_file_location("bench_detect", ROOT / "bench/bench_detect.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_detect", mod)
    spec.loader.exec_module(mod)
    return mod


# Read when the module is collected: tests/conftest.py removes RINGFENCE_* variables from the
# environment of every test (inside the test this always read the default).
CORPUS_EVENTS = int(os.environ.get("RINGFENCE_SIGMA_CORPUS_EVENTS", "50000"))


def test_generated_plans_equal_interpreted_over_the_bench_corpus() -> None:
    """All the benchmark's rules over its events (RINGFENCE_SIGMA_CORPUS_EVENTS, default
    50,000 of the bench's 200,000; the same seeded generator)."""
    bench = _bench_module()
    rs = bench.bench_ruleset()
    n = CORPUS_EVENTS
    events = bench.parse_all(bench.make_records(n))
    matched = 0
    for e in events:
        generated = [r.key for r in rs.match(e)]
        assert generated == [r.key for r in rs.match_interpreted(e)], (e.ocsf, e.raw)
        matched += len(generated)
    assert matched > n // 4  # the corpus is built to match often; an empty run proves nothing
    for e in events[:3000]:  # guarded full evaluation is slow: a prefix
        _assert_same(rs, e)


def test_bundled_rule_cases_decide_alike() -> None:
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
                _assert_same(rs, e)
                checked += 1
    assert checked >= 20


def _memos(rs: RuleSet) -> list[dict[str, Any]]:
    """The index memos of every generated plan (named ``m<n>`` in its namespace)."""
    out = []
    for plan in rs._plans.values():
        assert plan.run is not None
        ns = plan.run.__globals__
        out += [v for k, v in ns.items() if k[0] == "m" and k[1:].isdigit()]
    return out


INDEXED = """
title: pure a
id: 5f0d4e2a-2222-4222-8333-000000000001
logsource: {product: test}
detection: {sel: {a: [Foo, Bar, 'İx']}, condition: sel}
---
title: pure a again
id: 5f0d4e2a-2222-4222-8333-000000000002
logsource: {product: test}
detection: {sel: {a: foo}, condition: sel}
---
title: a with residual
id: 5f0d4e2a-2222-4222-8333-000000000003
logsource: {product: test}
detection: {sel: {a: FOO, b|contains: x}, condition: sel}
---
title: pure a after residual
id: 5f0d4e2a-2222-4222-8333-000000000004
logsource: {product: test}
detection: {sel: {a: [foo, '401']}, condition: sel}
---
title: path re
id: 5f0d4e2a-2222-4222-8333-000000000005
logsource: {product: test}
detection: {sel: {path|re: '(?i)^/(admin|debug)/[a-z]+'}, condition: sel}
"""


def test_index_memo_and_tuple_dispatch_decide_like_lowercasing_past_the_memo_bounds() -> None:
    """The index remembers the rules (or none) per exact text: every spelling, texts past the
    memo's length bound, more distinct texts than it keeps; rules the key proves alone come
    in plan order beside rules with residuals."""
    from ringfence.monitor.sigma.codegen import _MEMO_SIZE, _MEMO_TEXT

    rs = RuleSet.from_yaml(INDEXED)
    assert not rs.problems, rs.problems
    rng = random.Random(5)
    words = ["foo", "FOO", "Foo", "bar", "BAR", "İx", "i̇x", "401", "4O1", "x", ""]
    values: list[Any] = [
        rng.choice(words) + ("" if rng.random() < 0.5 else str(rng.randrange(3 * _MEMO_SIZE)))
        for _ in range(3 * _MEMO_SIZE)
    ]
    values += ["foo" + "o" * _MEMO_TEXT, "FOO" * _MEMO_TEXT, 401, 401.0, True, None, ["foo"]]
    seen_hits = 0
    for rerun in (values, values[::-1]):  # the second pass is answered from the memos
        for v in rerun:
            for raw in ({"a": v, "b": "xx"}, {"a": v}):
                e = ev(raw)
                generated = [r.key for r in rs.match(e)]
                assert generated == [r.key for r in rs.match_interpreted(e)], raw
                seen_hits += len(generated)
            assert all(len(m) <= _MEMO_SIZE for m in _memos(rs))
        memos = _memos(rs)
        assert memos and all(len(k) <= _MEMO_TEXT for m in memos for k in m)
    assert seen_hits > 1000


def test_index_memo_leaves_str_subclasses_to_their_own_lower() -> None:
    class Shouting(str):
        def lower(self) -> str:
            return "foo"

    rs = RuleSet.from_yaml(INDEXED)
    for _ in range(2):
        e = ev({"a": Shouting("nothing like it")})
        assert [r.key for r in rs.match(e)] == [r.key for r in rs.match_interpreted(e)]
        assert rs.match(e)
    assert all("nothing like it" not in m for m in _memos(rs))


def test_regex_read_from_its_memo_equals_the_interpreted_answer() -> None:
    from ringfence.monitor.sigma.compiler import _MEMO_SIZE

    rs = RuleSet.from_yaml(INDEXED)
    rng = random.Random(9)
    paths = [
        rng.choice(["/admin/", "/Debug/x", "/v1/", "/admin/9", "/DEBUG/vars"])
        + str(rng.randrange(2 * _MEMO_SIZE))
        for _ in range(2 * _MEMO_SIZE)
    ]
    for p in paths + paths[::-1] + [7, None, ["/admin/x"]]:
        e = ev({"path": p})
        assert [r.key for r in rs.match(e)] == [r.key for r in rs.match_interpreted(e)], p


@pytest.mark.parametrize("ocsf", [None, ["a", "foo"], 7])
def test_plans_read_a_non_dict_ocsf_only_when_the_field_is_missing_from_raw(ocsf: Any) -> None:
    """Plans check the OCSF object where they read it: a field found in ``raw`` decides
    without it; a field that falls back to the OCSF side hands the event to the
    interpreted path."""
    rs = RuleSet.from_yaml(INDEXED)
    for raw in ({"a": "foo"}, {}, {"path": "/admin/x"}, {"b": "x"}):
        odd = ev(dict(raw))
        odd.ocsf = ocsf
        assert _outcome(rs.match, odd) == _outcome(rs.match_interpreted, odd), raw


def test_plans_hand_dict_subclasses_to_the_interpreted_path() -> None:
    class Odd(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            return "foo"

    rs = RuleSet.from_yaml(INDEXED)
    for raw, ocsf in (({}, Odd()), (Odd(), {}), (Odd(a="bar"), Odd(a="bar"))):
        e = ev(raw, ocsf=ocsf or None)
        e.ocsf = ocsf
        assert _outcome(rs.match, e) == _outcome(rs.match_interpreted, e), (raw, ocsf)


def test_endless_service_names_share_plans_and_the_tables_stay_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``service`` comes from the records: a flood of new values must not generate a plan (and
    its code) each, nor grow the lookup tables without bound (review S1)."""
    import dataclasses

    from ringfence.monitor.sigma import engine

    monkeypatch.setattr(engine, "MAX_SOURCES", 50)
    rs = rule('sel: {a: "x"}\ncondition: sel')
    base = ev({"a": "x"})
    for i in range(500):
        e = dataclasses.replace(base, service=f"attacker-{i}")
        assert rs.match(e)  # the rule has no service: it applies to every one
    assert len(rs._plans_by_rules) == 1  # one plan, generated once
    assert len(rs._plans) <= 50 and all(len(v) <= 50 for v in rs._runs.values())
    sizes = getattr(rs.match, "sizes", None)  # the C matcher's own table, when it is in use
    if sizes is not None:
        assert 0 < sizes()["test"] <= 50
