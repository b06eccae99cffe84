from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ringfence.monitor.events import Event
from ringfence.monitor.parsers import parser_for
from ringfence.monitor.sigma.engine import RuleSet
from tests.monitor import records as R

T0 = datetime(2026, 1, 5, 10, tzinfo=UTC)


def ev(raw: dict[str, Any], *, t: datetime = T0, i: int = 0, ocsf: dict | None = None) -> Event:
    return Event(
        id=f"e{i}-{id(raw)}",
        time=t,
        source="test",
        class_uid=6003,
        activity_id=1,
        action="x",
        ocsf=ocsf or {},
        raw=raw,
        product="test",
        service="audit",
    )


def rule(detection: str, logsource: str = "product: test") -> RuleSet:
    text = f"title: t\nid: 5f0d4e2a-1111-4222-8333-444455556666\nlogsource: {{{logsource}}}\n"
    text += "detection:\n" + "\n".join("  " + line for line in detection.strip().splitlines())
    rs = RuleSet.from_yaml(text)
    assert not rs.problems, rs.problems
    return rs


def hits(rs: RuleSet, raw: dict[str, Any], **kw: Any) -> bool:
    return bool(rs.match(ev(raw, **kw)))


CASES: list[tuple[str, dict[str, Any], bool]] = [
    # plain values are case-insensitive equality; lists OR; maps AND
    ("sel: {a: Foo}\ncondition: sel", {"a": "foo"}, True),
    ("sel: {a: Foo}\ncondition: sel", {"a": "foobar"}, False),
    ("sel: {a: [x, y]}\ncondition: sel", {"a": "y"}, True),
    ("sel: {a: x, b: y}\ncondition: sel", {"a": "x", "b": "z"}, False),
    ("sel: {a|contains: OO}\ncondition: sel", {"a": "xfooy"}, True),
    ("sel: {a|startswith: foo}\ncondition: sel", {"a": "FOObar"}, True),
    ("sel: {a|startswith: foo}\ncondition: sel", {"a": "barfoo"}, False),
    ("sel: {a|endswith: .exe}\ncondition: sel", {"a": "C:\\x\\A.EXE"}, True),
    ("sel: {a: 'f*o?r'}\ncondition: sel", {"a": "fxxobr"}, True),
    ("sel: {a: 'f*o?r'}\ncondition: sel", {"a": "fobbr"}, False),
    ("sel: {a: 'lit\\*'}\ncondition: sel", {"a": "lit*"}, True),
    ("sel: {a: 'lit\\*'}\ncondition: sel", {"a": "litx"}, False),
    ("sel: {a|contains|all: [x, y]}\ncondition: sel", {"a": "y..x"}, True),
    ("sel: {a|contains|all: [x, y]}\ncondition: sel", {"a": "x alone"}, False),
    ("sel: {a|cased: Foo}\ncondition: sel", {"a": "Foo"}, True),
    ("sel: {a|cased: Foo}\ncondition: sel", {"a": "foo"}, False),
    ("sel: {a|re: '^ab+c$'}\ncondition: sel", {"a": "abbbc"}, True),
    ("sel: {a|re: '^ab+c$'}\ncondition: sel", {"a": "ABC"}, False),
    ("sel: {a|re|i: '^ab+c$'}\ncondition: sel", {"a": "ABC"}, True),
    ("sel: {a|re|m: '^x$'}\ncondition: sel", {"a": "y\nx\nz"}, True),
    ("sel: {a|re|s: 'a.b'}\ncondition: sel", {"a": "a\nb"}, True),
    ("sel: {a|re: 'a.b'}\ncondition: sel", {"a": "a\nb"}, False),
    ("sel: {ip|cidr: 10.0.0.0/8}\ncondition: sel", {"ip": "10.2.3.4"}, True),
    ("sel: {ip|cidr: 10.0.0.0/8}\ncondition: sel", {"ip": "11.2.3.4"}, False),
    ("sel: {ip|cidr: '2001:db8::/32'}\ncondition: sel", {"ip": "2001:db8::1"}, True),
    ("sel: {ip|cidr: 10.0.0.0/8}\ncondition: sel", {"ip": "not-an-ip"}, False),
    ("sel: {a|exists: true}\ncondition: sel", {"a": ""}, True),
    ("sel: {a|exists: true}\ncondition: sel", {"b": 1}, False),
    ("sel: {a|exists: false}\ncondition: sel", {"b": 1}, True),
    ("sel: {a|neq: x}\ncondition: sel", {"a": "y"}, True),
    ("sel: {a|neq: x}\ncondition: sel", {"a": "X"}, False),
    ("sel: {n|lt: 5}\ncondition: sel", {"n": 4}, True),
    ("sel: {n|lte: 5}\ncondition: sel", {"n": "5"}, True),
    ("sel: {n|gt: 5}\ncondition: sel", {"n": 5}, False),
    ("sel: {n|gte: 5}\ncondition: sel", {"n": 5.5}, True),
    ("sel: {n|gt: 5}\ncondition: sel", {"n": "many"}, False),
    ("sel: {n: 5}\ncondition: sel", {"n": 5}, True),
    ("sel: {n: 5}\ncondition: sel", {"n": "5"}, True),
    ("sel: {b: true}\ncondition: sel", {"b": True}, True),
    ("sel: {b: true}\ncondition: sel", {"b": False}, False),
    ("sel: {a: null}\ncondition: sel", {"b": 1}, True),
    ("sel: {a: null}\ncondition: sel", {"a": "x"}, False),
    ("sel: {a|base64: secret}\ncondition: sel", {"a": base64.b64encode(b"secret").decode()}, True),
    (
        "sel: {a|base64offset|contains: http://}\ncondition: sel",
        {"a": "x" + base64.b64encode(b"zzhttp://evil").decode()},
        True,
    ),
    (
        "sel: {a|base64offset|contains: http://}\ncondition: sel",
        {"a": base64.b64encode(b"ftp://nothing").decode()},
        False,
    ),
    ("sel: {a|windash|contains: ' -enc '}\ncondition: sel", {"a": "ps /enc abc"}, True),
    ("sel: {a|windash|contains: ' -enc '}\ncondition: sel", {"a": "ps \u2013enc abc"}, True),
    ("sel: {a|fieldref: b}\ncondition: sel", {"a": "Same", "b": "same"}, True),
    ("sel: {a|fieldref: b}\ncondition: sel", {"a": "one", "b": "two"}, False),
    ("sel: {a|fieldref|startswith: b}\ncondition: sel", {"a": "abc", "b": "ab"}, True),
    ("sel: {t|hour: 10}\ncondition: sel", {"t": "2026-01-05T10:30:00Z"}, True),
    ("sel: {t|hour: 10}\ncondition: sel", {"t": "2026-01-05T11:30:00Z"}, False),
    ("sel: {t|day: 5}\ncondition: sel", {"t": 1767604363}, True),
    (
        "sel: {a|wide|base64offset|contains: ping}\ncondition: sel",
        {"a": "xx" + base64.b64encode("zping -n".encode("utf-16le")).decode()},
        True,
    ),
    (
        "sel: {a|wide|base64offset|contains: ping}\ncondition: sel",
        {"a": base64.b64encode(b"zping -n").decode()},
        False,
    ),
    (
        "sel: {a|utf16be|base64: hi}\ncondition: sel",
        {"a": base64.b64encode("hi".encode("utf-16be")).decode()},
        True,
    ),
    ("sel: {t|minute: 30}\ncondition: sel", {"t": "2026-01-05T10:30:00Z"}, True),
    ("sel: {t|week: 2}\ncondition: sel", {"t": "2026-01-05T10:30:00Z"}, True),
    ("sel: {t|month: 2}\ncondition: sel", {"t": "2026-01-05T10:30:00Z"}, False),
    ("sel: {t|year: 2026}\ncondition: sel", {"t": 1767604363000}, True),
    # dotted paths into nested objects and lists
    (
        "sel: {actor.alternateId: bob@x.io}\ncondition: sel",
        {"actor": {"alternateId": "bob@x.io"}},
        True,
    ),
    (
        "sel: {target.type: Group}\ncondition: sel",
        {"target": [{"type": "User"}, {"type": "Group"}]},
        True,
    ),
    ("sel: {scopes: admin}\ncondition: sel", {"scopes": ["read", "admin"]}, True),
    ("sel: {a.b.c: deep}\ncondition: sel", {"a": {"b": [{"c": ["x", "deep"]}]}}, True),
    ("sel: {a.b.c: deep}\ncondition: sel", {"a": {"b": "deep"}}, False),
    # conditions
    ("s1: {a: x}\ns2: {b: y}\ncondition: s1 and not s2", {"a": "x", "b": "z"}, True),
    ("s1: {a: x}\ns2: {b: y}\ncondition: s1 and not s2", {"a": "x", "b": "y"}, False),
    ("s1: {a: x}\ns2: {b: y}\ncondition: s1 or s2", {"b": "y"}, True),
    ("sel_a: {a: x}\nsel_b: {b: y}\nf: {c: z}\ncondition: 1 of sel_* and not f", {"b": "y"}, True),
    ("sel_a: {a: x}\nsel_b: {b: y}\ncondition: all of sel_*", {"b": "y"}, False),
    ("sel_a: {a: x}\nsel_b: {b: y}\ncondition: all of sel_*", {"a": "x", "b": "y"}, True),
    ("s1: {a: x}\ns2: {b: y}\ncondition: 1 of them", {"a": "x"}, True),
    ("s1: {a: x}\ns2: {b: y}\ncondition: all of them", {"a": "x"}, False),
    (
        "s1: {a: x}\ns2: {b: y}\ns3: {c: z}\ncondition: s1 and (s2 or s3)",
        {"a": "x", "c": "z"},
        True,
    ),
    ("sel:\n  - a: x\n  - b: y\ncondition: sel", {"b": "y"}, True),
    ("kw:\n  - evil.example\ncondition: kw", {"deep": {"url": "https://EVIL.example/x"}}, True),
    ("kw:\n  - evil.example\ncondition: kw", {"url": "https://good.example"}, False),
]


@pytest.mark.parametrize(("detection", "raw", "expected"), CASES)
def test_modifiers_and_conditions(detection: str, raw: dict[str, Any], expected: bool) -> None:
    assert hits(rule(detection), raw) is expected


def test_rules_can_match_ocsf_fields_too() -> None:
    rs = rule("sel: {actor.user.email_addr: a@x.io}\ncondition: sel")
    assert rs.match(ev({}, ocsf={"actor": {"user": {"email_addr": "a@x.io"}}}))


def test_expand_uses_configured_placeholders() -> None:
    text = """
title: t
logsource: {product: test}
detection:
  sel: {role|expand: '%admin_roles%'}
  condition: sel
"""
    rs = RuleSet.from_docs(
        [("x", __import__("ruamel.yaml").yaml.YAML(typ="safe").load(text))],
        placeholders={"admin_roles": ["Global Administrator", "Super Admin"]},
    )
    assert rs.match(ev({"role": "super admin"}))
    assert not rs.match(ev({"role": "reader"}))
    missing = RuleSet.from_yaml(text)
    assert missing.rules == [] and "placeholder %admin_roles%" in missing.problems[0].message


def test_unsupported_constructs_are_reported_per_rule_not_fatal() -> None:
    text = """
title: backrefs
logsource: {product: test}
detection: {sel: {a|re: '(a)\\1'}, condition: sel}
---
title: good
logsource: {product: test}
detection: {sel: {a: x}, condition: sel}
---
title: broken
logsource: {product: test}
detection: {sel: {a: x}, condition: sel and nothere}
---
title: sum
correlation: {type: value_sum, rules: [good], group-by: [a], timespan: 1h,
              condition: {gte: 10, field: n}}
---
- not a mapping
"""
    rs = RuleSet.from_yaml(text, origin="mixed.yml")
    assert [r.title for r in rs.rules] == ["good"]
    msgs = {p.rule: p.message for p in rs.problems}
    assert "\\1" in msgs["backrefs"]  # backreferences cannot run on RE2
    assert "broken" in msgs and "invalid rule" in msgs["broken"]
    assert "value_sum" in msgs["sum"]
    assert "mapping" in msgs["?"]


def test_logsource_selects_rules() -> None:
    text = """
title: okta only
logsource: {product: okta, service: okta}
detection: {sel: {eventtype: user.session.start}, condition: sel}
---
title: gws admin only
logsource: {product: gcp, service: google_workspace.admin}
detection: {sel: {eventName: ASSIGN_ROLE}, condition: sel}
"""
    rs = RuleSet.from_yaml(text)
    okta = parser_for("okta")(R.okta())[0]
    assert [r.title for r in rs.match(okta)] == ["okta only"]
    gws = parser_for("google_workspace")(R.google())[0]
    assert [r.title for r in rs.match(gws)] == ["gws admin only"]
    login = parser_for("google_workspace")(R.google("login", "ASSIGN_ROLE"))[0]
    assert rs.match(login) == []


def test_index_by_equality_key_still_finds_everything() -> None:
    docs = "\n---\n".join(
        f"title: r{i}\nlogsource: {{product: test}}\n"
        f"detection: {{sel: {{action: act{i}}}, condition: sel}}"
        for i in range(50)
    )
    rs = RuleSet.from_yaml(
        docs + "\n---\ntitle: wild\nlogsource: {product: test}\n"
        "detection: {sel: {action|startswith: act1}, condition: sel}"
    )
    plan = rs._plan("test", "audit")
    assert len(plan.unindexed) == 1 and len(plan.indexes) == 1
    assert sorted(r.title for r in rs.match(ev({"action": "ACT12"}))) == ["r12", "wild"]
    assert len(rs.candidates(ev({"action": "act3"}), ev({"action": "act3"}).view())) == 2


CORR = """
title: failed login
name: failed_login
logsource: {product: test}
detection: {sel: {outcome: failure}, condition: sel}
---
title: success login
name: success_login
logsource: {product: test}
detection: {sel: {outcome: success}, condition: sel}
---
title: mfa off
name: mfa_off
logsource: {product: test}
detection: {sel: {op: mfa_disable}, condition: sel}
"""


def corr(body: str) -> RuleSet:
    rs = RuleSet.from_yaml(CORR + "---\n" + body)
    assert not rs.problems, rs.problems
    return rs


def feed(rs: RuleSet, raws: list[tuple[int, dict[str, Any]]]) -> list[str]:
    events = [ev(r, t=T0 + timedelta(seconds=s), i=n) for n, (s, r) in enumerate(raws)]
    return [d.rule_key for d in rs.evaluate(events) if d.kind == "correlation"]


def test_event_count_with_group_by_and_window() -> None:
    rs = corr("""title: brute force
name: brute
correlation: {type: event_count, rules: [failed_login], group-by: [user], timespan: 1m,
              condition: {gte: 3}}""")
    f = {"outcome": "failure", "user": "bob"}
    assert feed(rs, [(0, f), (10, f), (20, f)]) == ["brute"]
    rs = corr(
        rs_text := """title: brute force
name: brute
correlation: {type: event_count, rules: [failed_login], group-by: [user], timespan: 1m,
              condition: {gte: 3}}"""
    )
    # outside the window
    assert feed(rs, [(0, f), (50, f), (120, f)]) == []
    rs = corr(rs_text)
    other = {"outcome": "failure", "user": "eve"}
    assert feed(rs, [(0, f), (1, other), (2, f), (3, other)]) == []
    rs = corr(rs_text)
    # fires once per burst, then the window restarts
    assert feed(rs, [(i, f) for i in range(7)]) == ["brute", "brute"]


def test_referenced_rules_do_not_alert_alone_unless_generate() -> None:
    rs = corr("""title: brute
correlation: {type: event_count, rules: [failed_login], group-by: [user], timespan: 1m,
              condition: {gte: 2}}""")
    out = rs.evaluate([ev({"outcome": "failure", "user": "b"}, i=1)])
    assert out == []
    rs = corr("""title: brute
correlation: {type: event_count, rules: [failed_login], group-by: [user], timespan: 1m,
              condition: {gte: 2}, generate: true}""")
    out = rs.evaluate([ev({"outcome": "failure", "user": "b"}, i=1)])
    assert [d.kind for d in out] == ["rule"]


def test_value_count() -> None:
    rs = corr("""title: spray
name: spray
correlation: {type: value_count, rules: [failed_login], group-by: [ip], timespan: 5m,
              condition: {gt: 2, field: user}}""")
    raws = [
        (i, {"outcome": "failure", "ip": "1.1.1.1", "user": u})
        for i, u in enumerate(["a", "a", "b", "b", "c"])
    ]
    assert feed(rs, raws) == ["spray"]
    rs = corr("""title: spray
name: spray
correlation: {type: value_count, rules: [failed_login], group-by: [ip], timespan: 5m,
              condition: {gt: 2, field: user}}""")
    assert feed(rs, raws[:4]) == []


def test_temporal_and_temporal_ordered() -> None:
    body = """title: takeover
name: takeover
correlation: {type: %s, rules: [success_login, mfa_off], group-by: [user], timespan: 10m}"""
    login = {"outcome": "success", "user": "bob"}
    mfa = {"op": "mfa_disable", "user": "bob"}
    assert feed(corr(body % "temporal"), [(0, mfa), (60, login)]) == ["takeover"]
    assert feed(corr(body % "temporal"), [(0, mfa), (6000, login)]) == []
    assert feed(corr(body % "temporal_ordered"), [(0, mfa), (60, login)]) == []
    assert feed(corr(body % "temporal_ordered"), [(0, login), (60, mfa)]) == ["takeover"]
    other = {"op": "mfa_disable", "user": "eve"}
    assert feed(corr(body % "temporal_ordered"), [(0, login), (60, other)]) == []


def test_correlation_aliases() -> None:
    rs = corr("""title: aliased
name: aliased
correlation:
  type: temporal
  rules: [success_login, mfa_off]
  group-by: [who]
  timespan: 10m
  aliases:
    who: {success_login: user, mfa_off: target}""")
    assert feed(
        rs,
        [(0, {"outcome": "success", "user": "bob"}), (5, {"op": "mfa_disable", "target": "bob"})],
    ) == ["aliased"]


def test_correlation_with_unknown_rule_is_reported() -> None:
    rs = RuleSet.from_yaml(
        CORR
        + """---
title: dangling
correlation: {type: event_count, rules: [nope], group-by: [u], timespan: 1m, condition: {gte: 1}}"""
    )
    assert any("unknown rule 'nope'" in p.message for p in rs.problems)


def test_lt_condition_is_reported_unsupported() -> None:
    rs = RuleSet.from_yaml(
        CORR
        + """---
title: quiet
correlation: {type: event_count, rules: [failed_login], group-by: [u], timespan: 1m,
              condition: {lt: 2}}"""
    )
    assert any("needs end-of-window" in p.message for p in rs.problems)
