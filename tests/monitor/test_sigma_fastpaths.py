"""The matching hot path (``View`` instead of a copied dict, fused value lists, unrolled paths)
must decide exactly like the guarded full evaluation over ``Event.view()``."""

from __future__ import annotations

import random
from typing import Any

import pytest

from ringfence.monitor.sigma.engine import RuleSet
from ringfence.monitor.sigma.fields import View, getter
from ringfence.monitor.sigma.paths import compile_path
from tests.monitor.test_sigma import ev, rule


def _slow(rs: RuleSet, e: Any) -> list[str]:
    return sorted(r.key for r in rs.rules if r.matches(e, e.view()))


def test_bundled_rules_fast_path_equals_full_evaluation_on_sample_records() -> None:
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
            except Exception:  # a test case written for another shape: not this test's topic
                continue
            for e in events:
                assert sorted(x.key for x in rs.match(e)) == _slow(rs, e)
                checked += 1
    assert checked >= 20


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ALPHA", True),  # eq, case-insensitive
        ("xxbetaxx", True),  # contains
        ("Gamma-1", True),  # startswith
        ("the DELTA", True),  # endswith
        ("alph", False),
        (["zz", "gammax"], True),  # any element of a list
        (7, True),  # numbers compare as text against string values
        (True, False),
        (None, False),
        ({"a": 1}, False),
    ],
)
def test_fused_value_list_matches_like_separate_values(value: Any, expected: bool) -> None:
    fused = rule("sel: {f: [alpha, '*beta*', 'gamma*', '*delta', '7']}\ncondition: sel")
    # the same values as an OR of single selections: compiled one by one, not fused
    separate = rule(
        "a: {f: alpha}\nb: {f|contains: beta}\nc: {f|startswith: gamma}\n"
        "d: {f|endswith: delta}\ne: {f: '7'}\ncondition: a or b or c or d or e"
    )
    e = ev({"f": value})
    assert bool(fused.match(e)) is expected
    assert bool(separate.match(e)) is expected
    assert bool(fused.match(e)) == bool(_slow(fused, e))


@pytest.mark.parametrize(
    ("value", "expected"),
    [(401, True), ("403", True), (403.0, True), (" 401 ", True), (404, False), (True, False)],
)
def test_fused_number_list(value: Any, expected: bool) -> None:
    rs = rule("sel: {status: [401, 403]}\ncondition: sel")
    assert bool(rs.match(ev({"status": value}))) is expected


def test_cased_and_timestamp_values_are_not_fused() -> None:
    rs = rule("sel: {f|cased: [Abc, Def]}\ncondition: sel")
    assert rs.match(ev({"f": "Abc"}))
    assert not rs.match(ev({"f": "abc"}))


def test_unrolled_paths_equal_the_general_walk() -> None:
    rng = random.Random(5)
    leaves: list[Any] = [1, "x", None, [1, 2], [{"c": 3}], {"c": [4, 5]}, {"c": {"d": 6}}]

    def doc(depth: int) -> Any:
        if depth == 0 or rng.random() < 0.2:
            return rng.choice(leaves)
        return {k: doc(depth - 1) for k in rng.sample(["a", "b", "c", "a.b", "d"], 3)}

    for _ in range(400):
        d = doc(4)
        for path in ("a", "a.b", "a.c.d", "a.b.c", "b.c", "a.b.c.d"):
            assert compile_path(path)(d) == _walk(d, path), (path, d)


def _walk(doc: Any, path: str) -> list[Any]:
    """Reference semantics, written independently: fan out over lists, dotted keys."""
    parts = path.split(".")

    def flat(v: Any) -> list[Any]:
        if isinstance(v, list):
            return [x for item in v for x in flat(item)]
        return [v]

    cur: Any = doc
    for i, part in enumerate(parts):
        if isinstance(cur, dict):
            if part in cur:
                cur = cur[part]
                continue
            whole = ".".join(parts[i:])
            if i < len(parts) - 1 and whole in cur:
                return flat(cur[whole])
            return []
        if isinstance(cur, list):
            out: list[Any] = []
            for item in flat(cur):
                if isinstance(item, dict):
                    out.extend(_walk(item, ".".join(parts[i:])))
            return out
        return []
    return flat(cur)


def test_view_and_dict_view_resolve_alike() -> None:
    ocsf = {"actor": {"user": {"name": "ann"}}, "raw": "ignored by both"}
    raw = {"eventType": "x", "raw": {"inner": 1}}
    view = View(ocsf, raw)
    as_dict = {**ocsf, "raw": raw}
    for field in ("actor.user.name", "eventType", "raw", "raw.raw.inner", "missing"):
        g = getter("okta", field)
        assert g(view) == g(as_dict), field


def test_remembered_regex_answers_equal_re2_past_the_memo_bounds() -> None:
    from ringfence.monitor.sigma.compiler import _MEMO_SIZE, _MEMO_TEXT, _re2_match, _re2_test

    for pattern, full in (("(?i)/(admin|debug)/[a-z]+", False), ("(?is)ab.*c.", True)):
        remembered, direct = _re2_test(pattern, full=full), _re2_match(pattern, full=full)
        rng = random.Random(pattern)
        texts = [
            rng.choice(["/admin/", "/Debug/x", "abxcd", "abc", "x"]) * rng.randint(1, 3)
            + str(rng.randrange(3 * _MEMO_SIZE))
            for _ in range(3 * _MEMO_SIZE)
        ]
        texts += ["/admin/" + "a" * _MEMO_TEXT, "ab" + "z" * _MEMO_TEXT + "cd"]
        for t in texts + texts[::-1]:  # the second pass is answered from the memo
            assert remembered(t) is direct(t), t


def _address_like(rng: random.Random) -> str:
    """Texts near the dotted-quad grammar: octets past 255, leading zeros, 3 or 5 parts,
    spaces, NUL, non-ASCII digits, signs, IPv6 and v4-mapped forms, scope ids."""
    if rng.random() < 0.15:
        return rng.choice(
            ["::1", "::ffff:203.0.113.7", "2001:db8::1", "fe80::1%eth0", "", " ", "localhost"]
        )
    parts = []
    for _ in range(rng.choice([4, 4, 4, 4, 3, 5])):
        octet = str(rng.choice([0, 7, 10, 113, 203, 255, 256, 999, rng.randrange(300)]))
        if rng.random() < 0.05:
            octet = "0" + octet
        parts.append(octet)
    text = ".".join(parts)
    if rng.random() < 0.2:
        i = rng.randrange(len(text) + 1)
        junk = [" ", "\t", "\x00", "x", "\u0661", "+", "-", "/24", "%1"]  # U+0661: Arabic 1
        text = text[:i] + rng.choice(junk) + text[i:]
    if rng.random() < 0.1:
        text = f" {text}\n"
    return text


def test_cidr_fast_path_equals_ipaddress() -> None:
    import ipaddress

    from ringfence.monitor.sigma.compiler import _cidr_test

    rng = random.Random(3)
    texts = [_address_like(rng) for _ in range(20000)]
    texts += ["203.0.113.0", "203.0.113.255", "203.0.114.0", "10.0.0.1", "0.0.0.0"]
    inside = 0
    for cidr in ("203.0.113.0/24", "10.0.0.0/8", "0.0.0.0/0", "203.0.113.7/32", "2001:db8::/32"):
        net = ipaddress.ip_network(cidr)
        test = _cidr_test(net)
        for t in texts:
            try:
                expected = ipaddress.ip_address(t.strip()) in net
            except ValueError:
                expected = False
            assert test(t) is expected, (cidr, t)
            inside += expected
        assert test(203) is False and test(None) is False and test(["10.0.0.1"]) is False
    assert inside > 2000  # the texts reach inside the networks, not only past them
