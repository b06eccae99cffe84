"""A passing and a failing context for every check in the catalogue (table-driven)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta

import pytest

from ringfence.connectors import DiscoveredApp, DiscoveredGrant, DiscoveredPerson
from ringfence.core.levels import DataClass
from ringfence.posture import (
    ConsoleUserFact,
    CredentialFact,
    FlowFact,
    IntegrationFact,
    PostureContext,
    UsageCount,
    all_checks,
    get_check,
    run_checks,
)
from tests.posture.builders import (
    NOW,
    ago,
    healthy,
    with_app,
    with_credential,
    with_integration,
)

Mutation = Callable[[PostureContext], None]


def saas_person(ctx: PostureContext, **changes: object) -> None:
    assert ctx.saas is not None
    ctx.saas.people[0] = replace(ctx.saas.people[0], **changes)  # type: ignore[arg-type]


def add_saas_person(ctx: PostureContext, person: DiscoveredPerson) -> None:
    assert ctx.saas is not None
    ctx.saas.people.append(person)


def grant(ctx: PostureContext, **changes: object) -> None:
    assert ctx.saas is not None
    ctx.saas.grants[0] = replace(ctx.saas.grants[0], **changes)  # type: ignore[arg-type]


def slack_app(ctx: PostureContext, **changes: object) -> None:
    assert ctx.saas is not None
    ctx.saas.apps[2] = replace(ctx.saas.apps[2], **changes)  # type: ignore[arg-type]


def usage(ctx: PostureContext, **changes: object) -> None:
    assert ctx.usage is not None
    ctx.usage["crm-chat"] = replace(ctx.usage["crm-chat"], **changes)  # type: ignore[arg-type]


def route(ctx: PostureContext, **changes: object) -> None:
    assert ctx.routes is not None
    ctx.routes[0] = replace(ctx.routes[0], **changes)  # type: ignore[arg-type]


def vendor(ctx: PostureContext, **changes: object) -> None:
    assert ctx.vendors is not None
    ctx.vendors[0] = replace(ctx.vendors[0], **changes)  # type: ignore[arg-type]


def shared_credential(ctx: PostureContext) -> None:
    ctx.integrations.append(
        IntegrationFact(
            "i2",
            "crm-mail",
            "app_to_app",
            "a2",
            "a1",
            "p1",
            "cid-2",
            scopes=("chat:write",),
            data_classes=("internal",),
            created_at=ago(5),
        )
    )
    ctx.credentials.append(
        CredentialFact(
            "c2",
            "crm-mail-key",
            "api_key",
            "vault:crm-chat-key",
            "i2",
            ago(5),
            ago(5),
            NOW + timedelta(days=30),
            ago(1),
        )
    )


def many_admins(ctx: PostureContext) -> None:
    for n in range(5):
        add_saas_person(
            ctx,
            DiscoveredPerson(
                "okta",
                f"a{n}",
                f"adm{n}@corp.example",
                f"adm{n}@corp.example",
                is_admin=True,
                mfa_enabled=True,
            ),
        )


def backups(ctx: PostureContext, **changes: object) -> None:
    assert ctx.backups is not None
    ctx.backups = replace(ctx.backups, **changes)  # type: ignore[arg-type]


def readiness(ctx: PostureContext, **changes: object) -> None:
    assert ctx.readiness is not None
    ctx.readiness = replace(ctx.readiness, **changes)  # type: ignore[arg-type]


def monitoring_source(ctx: PostureContext, name: str, value: object, drop: bool = False) -> None:
    assert ctx.monitoring is not None
    if drop:
        ctx.monitoring.sources.pop(name)
    else:
        ctx.monitoring.sources[name] = value  # type: ignore[assignment]


def _drop_okta_chat(ctx: PostureContext) -> None:
    assert ctx.saas is not None
    ctx.saas.apps.pop(1)


def _add_saas(ctx: PostureContext, item: object) -> None:
    assert ctx.saas is not None
    if isinstance(item, DiscoveredApp):
        ctx.saas.apps.append(item)
    elif isinstance(item, DiscoveredGrant):
        ctx.saas.grants.append(item)


def _vnd006(ctx: PostureContext) -> None:
    vendor(ctx, certifications=())
    with_app(
        ctx,
        0,
        clearance=DataClass.RESTRICTED,
        data_classes=("restricted",),
        retention_days=(("restricted", 30),),
    )


def console(ctx: PostureContext, index: int, **changes: object) -> None:
    assert ctx.console_users is not None
    ctx.console_users[index] = replace(ctx.console_users[index], **changes)  # type: ignore[arg-type]


def add_console(ctx: PostureContext, user: ConsoleUserFact) -> None:
    assert ctx.console_users is not None
    ctx.console_users.append(user)


CASES: dict[str, tuple[Mutation, str]] = {
    "RF-IDN-014": (lambda c: console(c, 0, mfa=False), "olive"),
    "RF-IDN-016": (
        lambda c: add_console(c, ConsoleUserFact("u3", "ana", "p1", ("security-analyst",), True)),
        "ana",
    ),
    "RF-IDN-017": (
        lambda c: add_console(
            c, ConsoleUserFact("u4", "aud", "p1", ("auditor",), sso=True, last_signin_mfa=False)
        ),
        "aud",
    ),
    "RF-IDN-015": (lambda c: console(c, 1, disabled=False), "leo"),
    "RF-IDN-018": (  # named like crm-chat's client id
        lambda c: c.integrations.append(IntegrationFact("i9", "cid-1", "service_account", "a2")),
        "cid-1",
    ),
    "RF-IDN-019": (lambda c: c.vendor_names_by_id.__setitem__("v9", "v2"), "v2"),
    "RF-IDN-001": (lambda c: saas_person(c, mfa_enabled=False), "okta:owner@corp.example"),
    "RF-IDN-002": (
        lambda c: add_saas_person(
            c,
            DiscoveredPerson(
                "okta", "u2", "bob@corp.example", "bob@corp.example", mfa_enabled=False
            ),
        ),
        "okta:bob@corp.example",
    ),
    "RF-IDN-003": (lambda c: saas_person(c, mfa_enabled=None), "okta:owner@corp.example"),
    "RF-IDN-004": (
        lambda c: add_saas_person(
            c,
            DiscoveredPerson(
                "okta", "u3", "leaver@corp.example", "leaver@corp.example", mfa_enabled=True
            ),
        ),
        "okta:leaver@corp.example",
    ),
    "RF-IDN-005": (lambda c: with_integration(c, owner_id="p2"), "crm-chat"),
    "RF-IDN-006": (lambda c: with_integration(c, owner_id=None), "crm-chat"),
    "RF-IDN-007": (lambda c: with_app(c, 0, owner_id=None), "CRM"),
    "RF-IDN-008": (lambda c: with_app(c, 0, owner_id="p2"), "CRM"),
    "RF-IDN-009": (lambda c: saas_person(c, last_login=ago(200)), "crm-chat"),
    "RF-IDN-010": (shared_credential, "vault:crm-chat-key"),
    "RF-IDN-011": (_drop_okta_chat, "Chat"),
    "RF-IDN-012": (many_admins, "okta"),
    "RF-IDN-013": (lambda c: grant(c, principal="leaver@corp.example"), "slack:A1/u1"),
    "RF-CRD-001": (lambda c: with_credential(c, created_at=ago(200)), "crm-chat-key"),
    "RF-CRD-002": (lambda c: with_credential(c, expires_at=None), "crm-chat-key"),
    "RF-CRD-003": (
        lambda c: with_credential(c, rotated_at=None, created_at=ago(60)),
        "crm-chat-key",
    ),
    "RF-CRD-004": (lambda c: with_credential(c, last_used_at=ago(120)), "crm-chat-key"),
    "RF-CRD-005": (lambda c: with_credential(c, expires_at=ago(1)), "crm-chat-key"),
    "RF-CRD-006": (
        lambda c: with_credential(c, expires_at=NOW + timedelta(days=5)),
        "crm-chat-key",
    ),
    "RF-CRD-007": (lambda c: with_credential(c, ref="plaintext-value"), "crm-chat-key"),
    "RF-CRD-008": (lambda c: with_credential(c, ref="env:CRM_KEY"), "crm-chat-key"),
    "RF-CRD-009": (lambda c: with_credential(c, rotation_days=3), "crm-chat-key"),
    "RF-CRD-010": (lambda c: with_credential(c, kind="password"), "crm-chat-key"),
    "RF-CRD-011": (lambda c: with_integration(c, status="quarantined"), "crm-chat-key"),
    "RF-CRD-012": (lambda c: grant(c, scopes=("admin:org",)), "slack:A1/u1"),
    "RF-CRD-013": (lambda c: grant(c, last_used_at=ago(120)), "slack:A1/u1"),
    "RF-LPV-001": (lambda c: usage(c, scopes={}), "crm-chat"),
    "RF-LPV-002": (lambda c: usage(c, last_seen=ago(120)), "crm-chat"),
    "RF-LPV-003": (lambda c: with_integration(c, scopes=("*",)), "crm-chat"),
    "RF-LPV-004": (lambda c: with_integration(c, scopes=("admin",)), "crm-chat"),
    "RF-LPV-005": (lambda c: with_integration(c, scopes=("channels:history",)), "crm-chat"),
    "RF-LPV-006": (lambda c: grant(c, scopes=("im:history",)), "slack:A1/u1"),
    "RF-LPV-007": (lambda c: grant(c, scopes=("im:history",), tenant_wide=True), "slack:A1/u1"),
    "RF-LPV-008": (lambda c: slack_app(c, scopes=("contents:write",)), "slack:CRM Connector"),
    "RF-LPV-009": (
        lambda c: with_integration(c, scopes=tuple(f"s{i}" for i in range(11))),
        "crm-chat",
    ),
    "RF-LPV-010": (lambda c: with_integration(c, scopes=()), "crm-chat"),
    "RF-LPV-011": (
        lambda c: usage(
            c, scopes={"chat:write": UsageCount(3, ago(1)), "files:read": UsageCount(2, ago(1))}
        ),
        "crm-chat",
    ),
    "RF-DAT-001": (
        lambda c: c.flows.__setitem__(0, replace(c.flows[0], data_classes=("confidential",))),
        "crm-to-chat",
    ),
    "RF-DAT-002": (lambda c: with_integration(c, data_classes=("confidential",)), "crm-chat"),
    "RF-DAT-003": (
        lambda c: c.flows.append(FlowFact("obs-1", "obs-1", "a2", "a1", ("internal",), "observed")),
        "obs-1",
    ),
    "RF-DAT-004": (
        lambda c: with_app(
            c, 0, clearance=DataClass.RESTRICTED, data_classes=("internal", "restricted")
        ),
        "CRM",
    ),
    "RF-DAT-005": (lambda c: with_app(c, 0, retention_days=(("confidential", 365),)), "CRM"),
    "RF-DAT-006": (
        lambda c: with_app(c, 0, retention_days=(("internal", 9999), ("confidential", 365))),
        "CRM",
    ),
    "RF-DAT-007": (lambda c: with_app(c, 1, sanctioned=False), "crm-chat"),
    "RF-DAT-008": (
        lambda c: with_app(
            c, 1, data_classes=("confidential",), retention_days=(("confidential", 30),)
        ),
        "Chat",
    ),
    "RF-DAT-009": (
        lambda c: c.flows.__setitem__(0, replace(c.flows[0], integration_id=None)),
        "crm-to-chat",
    ),
    "RF-DAT-010": (lambda c: with_app(c, 0, sanctioned=False), "crm-chat"),
    "RF-API-001": (lambda c: with_app(c, 0, base_urls=("http://crm.acme.example",)), "CRM"),
    "RF-API-002": (lambda c: route(c, upstream="http://chat.acme.example"), "chat"),
    "RF-API-003": (lambda c: route(c, operations_with_schema=0), "chat"),
    "RF-API-004": (lambda c: route(c, rate_limit=None), "chat"),
    "RF-API-005": (lambda c: usage(c, direct_calls={"chat.acme.example": 3}), "crm-chat"),
    "RF-API-006": (lambda c: route(c, integrations=()), "crm-chat"),
    "RF-API-007": (lambda c: route(c, allow_loopback=True), "chat"),
    "RF-API-008": (lambda c: route(c, integrations=("crm-chat", "ghost")), "chat"),
    "RF-SHD-001": (lambda c: with_app(c, 1, sanctioned=False), "Chat"),
    "RF-SHD-002": (
        lambda c: _add_saas(c, DiscoveredApp("slack", "B9", "Sketchy Notes", "cid-x")),
        "slack:Sketchy Notes",
    ),
    "RF-SHD-003": (
        lambda c: _add_saas(
            c,
            DiscoveredGrant(
                "slack", "X/u1", "Sketchy Notes", "cid-x", "owner@corp.example", ("files:read",)
            ),
        ),
        "slack:X/u1",
    ),
    "RF-SHD-004": (lambda c: slack_app(c, verified=False), "slack:CRM Connector"),
    "RF-SHD-005": (lambda c: with_integration(c, client_id="cid-9"), "crm-chat"),
    "RF-SHD-006": (
        lambda c: _add_saas(c, DiscoveredApp("okta", "o9", "\u0421RM", "cid-evil")),
        "okta:\u0421RM",
    ),
    "RF-VND-001": (lambda c: vendor(c, last_assessment_at=ago(400)), "Acme"),
    "RF-VND-002": (lambda c: vendor(c, certifications=(("soc2_type2", date(2026, 1, 1)),)), "Acme"),
    "RF-VND-003": (lambda c: vendor(c, has_dpa=False), "Acme"),
    "RF-VND-004": (lambda c: vendor(c, open_critical_findings=2), "Acme"),
    "RF-VND-005": (lambda c: vendor(c, security_contacts=0), "Acme"),
    "RF-VND-006": (lambda c: _vnd006(c), "Acme"),
    "RF-IRR-001": (
        lambda c: readiness(c, playbook_classes=frozenset({"service_account"})),
        "app_to_app",
    ),
    "RF-IRR-002": (lambda c: readiness(c, last_drill_at=ago(100)), "drills"),
    "RF-IRR-003": (lambda c: backups(c, last_verified_backup_at=None), "backups"),
    "RF-MON-001": (lambda c: monitoring_source(c, "okta", ago(2)), "okta"),
    "RF-MON-002": (
        lambda c: c.monitoring.sinks_failing.__setitem__("splunk", True),  # type: ignore[union-attr]
        "splunk",
    ),
    "RF-MON-003": (lambda c: monitoring_source(c, "slack", None, drop=True), "slack"),
}


def test_catalogue_has_at_least_60_checks_each_with_complete_metadata() -> None:
    checks = all_checks()
    assert len(checks) >= 60
    for c in checks:
        m = c.meta
        assert m.title and m.rationale and m.remediation and m.resource_type
        mp = m.mappings
        assert mp.cis and mp.iso27001 and mp.soc2 and mp.nist_csf, m.id


def test_every_check_has_a_failing_case_in_this_table() -> None:
    assert sorted(CASES) == [c.meta.id for c in all_checks()]


def test_healthy_context_passes_every_check() -> None:
    report = run_checks(healthy())
    bad = {
        r.meta.id: (r.status, [f.message for f in r.failures], r.reason)
        for r in report.results
        if r.status != "pass"
    }
    assert bad == {}


@pytest.mark.parametrize("check_id", sorted(CASES))
def test_check_fails_on_its_bad_fact(check_id: str) -> None:
    mutate, resource = CASES[check_id]
    ctx = healthy()
    mutate(ctx)
    [result] = run_checks(ctx, only=[check_id]).results
    assert result.status == "fail", result.reason
    assert resource in {f.resource_id for f in result.failures}
    assert all(f.message for f in result.failures)
    # ... and the same check passes on the untouched context.
    [ok] = run_checks(healthy(), only=[check_id]).results
    assert ok.status == "pass"


def test_checks_skip_with_a_reason_when_their_inputs_are_absent() -> None:
    ctx = healthy()
    ctx.vendors = None
    ctx.usage = None
    report = run_checks(ctx)
    skipped = {r.meta.id: r.reason for r in report.results if r.status == "skip"}
    assert skipped["RF-VND-003"] == "no vendor-risk data yet"
    assert skipped["RF-LPV-001"] == "no gateway usage observed yet"
    assert "RF-IDN-005" not in skipped


def test_unknown_check_id_is_an_error() -> None:
    with pytest.raises(KeyError, match="RF-NOPE"):
        run_checks(healthy(), only=["RF-NOPE"])
    with pytest.raises(KeyError):
        get_check("RF-NOPE")


def test_a_crashing_check_is_reported_not_raised() -> None:
    ctx = healthy()
    ctx.integrations.append(object())  # type: ignore[arg-type]
    report = run_checks(ctx, only=["RF-IDN-006"])
    assert report.results[0].status == "error"
    assert "AttributeError" in (report.results[0].reason or "")
