"""The ``vendor_risk:`` estate section: validate, plan, apply (idempotent), export, delete."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from ringfence.core.clock import FixedClock
from ringfence.inventory.estate import (
    EstateInvalid,
    apply_estate,
    export_estate,
    load_estate,
    parse_estate,
    plan_estate,
)
from ringfence.runtime import Runtime
from ringfence.store.audit import verify
from ringfence.store.models import Vendor
from ringfence.vendors import evidence, service
from ringfence.vendors.models import Certification, CertKind, VendorProfile
from ringfence.vendors.schemas import CertificationIn
from ringfence.vendors.scoring import assess_vendor

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "estate.yaml"

BASE = """\
apiVersion: ringfence/v1
vendors:
  - name: Payroll Co
  - name: Chat Co
"""
RISK = """\
vendor_risk:
  - name: Payroll Co
    tier: critical
    services: [payroll]
    protocol:
      channel: email
      hours: "24x7"
      breach_notification_address: breach@payroll.example
      contacts:
        - {name: SOC desk, email: soc@payroll.example, escalation_order: 2}
        - {name: CISO, email: ciso@payroll.example, escalation_order: 1}
    certifications:
      - {kind: soc2_type2, period_start: 2024-10-01, period_end: 2025-09-30}
      - {kind: iso27001, expires_on: 2025-11-20}
    contracts:
      - name: MSA 2025
        start_on: 2025-01-01
        end_on: 2027-12-31
        clauses: {dpa: true, breach_notification_hours: 48, right_to_audit: true}
    pentests:
      - name: 2025 external
        performed_on: 2025-11-01
        findings:
          - {id: F-2, title: Weak TLS, severity: medium}
          - {id: F-1, title: Auth bypass, severity: critical}
    assessment: {completed_on: 2025-10-01, template: full, score: 82}
"""


def _apply(rt: Runtime, text: str):  # type: ignore[no-untyped-def]
    return apply_estate(rt.store, parse_estate(text, "estate.yaml"), actor="test", clock=rt.clock)


def test_apply_is_idempotent_and_feeds_the_score(runtime: Runtime) -> None:
    first = _apply(runtime, BASE + RISK)
    assert any(c.section == "vendor_risk" and c.action == "create" for c in first.changes)
    assert _apply(runtime, BASE + RISK).is_empty  # reordered lists compare equal
    (r,) = service.risk(runtime, "Payroll Co")
    assert r.tier.value == "critical" and r.has_dpa
    assert r.assessment.state.value == "current" and r.assessment.score == 82
    assert [c.label for c in r.expired_certifications] == ["ISO/IEC 27001"]
    assert len(r.open_critical_findings) == 1
    detail = service.vendor_detail(runtime, "Payroll Co")
    assert [c["name"] for c in detail["profile"]["contacts"]] == ["CISO", "SOC desk"]
    assert verify(runtime.store).ok


def test_update_replaces_only_estate_rows_and_delete_removes_them(runtime: Runtime) -> None:
    _apply(runtime, BASE + RISK)
    with runtime.store.session() as s:
        vendor = s.scalars(select(Vendor).where(Vendor.name == "Payroll Co")).one()
        evidence.add_certification(
            s,
            vendor,
            CertificationIn(kind=CertKind.PCI_DSS, expires_on="2027-01-01"),  # type: ignore[arg-type]
        )
    changed = RISK.replace("score: 82", "score: 60")
    plan = _apply(runtime, BASE + changed)
    (change,) = [c for c in plan.changes if c.section == "vendor_risk"]
    assert change.action == "update" and [f.field for f in change.fields] == ["assessment"]
    with runtime.store.session() as s:
        kinds = sorted(c.kind.value for c in s.scalars(select(Certification)))
    assert kinds == ["iso27001", "pci_dss", "soc2_type2"]
    _apply(runtime, BASE + "vendor_risk: []\n")
    with runtime.store.session() as s:
        assert s.scalars(select(VendorProfile)).all() == []
        assert [c.kind.value for c in s.scalars(select(Certification))] == ["pci_dss"]


def test_export_round_trips_the_section(runtime: Runtime) -> None:
    _apply(runtime, BASE + RISK)
    text = export_estate(runtime.store)
    assert "vendor_risk:" in text and "breach@payroll.example" in text
    with runtime.store.session() as s:
        assert plan_estate(s, parse_estate(text, "export.yaml")).is_empty


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ("  - name: Nobody Inc\n", "unknown vendor 'Nobody Inc'"),
        ("  - name: Chat Co\n    tier: extreme\n", "tier"),
        ("  - name: Chat Co\n    protocol: {channel: carrier-pigeon}\n", "channel must be one of"),
        ("  - name: Chat Co\n    certifications: [{kind: iso27001}]\n", "expires_on"),
        ("  - name: Chat Co\n    contracts: [{name: x, clauses: {nda: true}}]\n", "nda"),
        ("  - name: Chat Co\n    assessment: {completed_on: 2025-01-01, score: 140}\n", "score"),
    ],
)
def test_bad_section_items_are_located_errors(runtime: Runtime, snippet: str, message: str) -> None:
    with pytest.raises(EstateInvalid) as exc, runtime.store.session() as s:
        plan_estate(s, parse_estate(BASE + "vendor_risk:\n" + snippet, "estate.yaml"))
    text = str(exc.value) + " ".join(str(p) for p in exc.value.errors)
    assert message in text and "estate.yaml:" in text


def test_example_estate_applies_with_vendors_in_every_state(
    runtime: Runtime, clock: FixedClock
) -> None:
    clock.advance(days=(date(2026, 11, 26) - clock.now().date()).days)  # the example's "today"
    estate = load_estate(EXAMPLE)
    if "vendor_risk" not in estate.sections:
        pytest.skip("examples/estate.yaml has no vendor_risk section yet")
    apply_estate(runtime.store, estate, actor="test", clock=runtime.clock)
    with runtime.store.session() as s:
        assert plan_estate(s, load_estate(EXAMPLE)).is_empty
    risks = {r.vendor: r for r in service.risk(runtime)}
    states = {r.assessment.state.value for r in risks.values()}
    assert {"current", "overdue"} <= states
    assert any(r.expired_certifications for r in risks.values())
    assert any(r.open_critical_findings for r in risks.values())
    assert any(not r.has_dpa and r.highest_data_class.label == "restricted" for r in risks.values())
    assert risks["Salesforce"].assessment.state.value == "current"
    assert risks["Workday"].assessment.state.value == "overdue"
    assert [c.label for c in risks["ADP"].expired_certifications] == ["SOC 2 Type II"]
    assert risks["Stripe"].open_critical_findings
    assert risks["Zapier"].assessment.state.value == "none"
    with runtime.store.session() as s:
        # The bulk path (a fixed number of queries) agrees with scoring vendor by vendor.
        one_by_one = {v.name: assess_vendor(s, v, clock) for v in s.scalars(select(Vendor))}
        assert one_by_one == risks
        due = evidence.due_reminders(s, clock)
    assert [(r.vendor, r.label, r.stage) for r in due] == [("Workday", "ISO/IEC 27001", 30)]
