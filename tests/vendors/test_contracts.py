"""Contracts: clause checklist and renewals; pentests: findings and remediation SLA."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pydantic import ValidationError as PydanticValidationError

from ringfence.runtime import Runtime
from ringfence.store.models import Vendor
from ringfence.vendors import contracts
from ringfence.vendors.models import Severity
from ringfence.vendors.schemas import ContractIn, PentestIn
from tests.vendors.conftest import Estate


def test_breach_notification_counts_only_within_72_hours() -> None:
    assert "breach_notification_hours" in contracts.present_clauses(
        {"breach_notification_hours": 48}
    )
    assert "breach_notification_hours" not in contracts.present_clauses(
        {"breach_notification_hours": 96}
    )
    assert contracts.present_clauses({"dpa": "yes"}) == set()  # only a real True counts


def test_active_contract_clause_coverage_and_renewals(runtime: Runtime, estate: Estate) -> None:
    today = runtime.clock.now().date()
    with runtime.store.session() as s:
        vendor = s.get_one(Vendor, estate.vendor_id)
        contracts.add_contract(
            s,
            vendor,
            ContractIn.model_validate(
                {
                    "name": "MSA 2025",
                    "start_on": today - timedelta(days=300),
                    "end_on": today + timedelta(days=65),
                    "notice_days": 60,
                    "clauses": {"dpa": True, "right_to_audit": True},
                }
            ),
        )
        contracts.add_contract(
            s,
            vendor,
            ContractIn(name="Old", end_on=today - timedelta(days=1), clauses={"sccs": True}),  # type: ignore[arg-type]
        )
    with runtime.store.session() as s:
        active = contracts.active_contracts(s, estate.vendor_id, today)
        assert [c.name for c in active] == ["MSA 2025"]
        assert contracts.clause_coverage(active) == {"dpa", "right_to_audit"}
        due = contracts.renewals_due(s, today)
    assert [(r.contract, r.notice_by) for r in due] == [("MSA 2025", today + timedelta(days=5))]


@pytest.mark.parametrize(
    "data",
    [
        {"name": ""},
        {"name": "x", "clauses": {"dpa": True, "nda": True}},
        {"name": "x", "clauses": {"breach_notification_hours": 0}},
        {"name": "x", "start_on": "2026-02-01", "end_on": "2026-01-01"},
    ],
)
def test_bad_contract_input_is_refused(data: dict[str, object]) -> None:
    with pytest.raises(PydanticValidationError):
        ContractIn.model_validate(data)


def test_pentest_findings_get_sla_due_dates_and_go_overdue(
    runtime: Runtime, estate: Estate
) -> None:
    performed = date(2025, 12, 1)
    with runtime.store.session() as s:
        vendor = s.get_one(Vendor, estate.vendor_id)
        contracts.add_pentest(
            s,
            vendor,
            PentestIn.model_validate(
                {
                    "name": "2025 external test",
                    "performed_on": performed,
                    "findings": [
                        {"id": "F-1", "title": "SQL injection", "severity": "critical"},
                        {"id": "F-2", "title": "Verbose errors", "severity": "low"},
                        {
                            "id": "F-3",
                            "title": "Old TLS",
                            "severity": "high",
                            "status": "resolved",
                        },
                    ],
                }
            ),
        )
    with runtime.store.session() as s:
        found = contracts.open_findings(s, date(2026, 1, 1), estate.vendor_id)
    assert [(f.ref, f.severity) for f in found] == [
        ("F-1", Severity.CRITICAL),
        ("F-2", Severity.LOW),
    ]
    crit = found[0]
    assert crit.due_on == performed + timedelta(days=contracts.SLA_DAYS[Severity.CRITICAL])
    assert crit.overdue and crit.days_overdue == 16
    assert not found[1].overdue


def test_duplicate_finding_refs_are_refused() -> None:
    with pytest.raises(PydanticValidationError, match="unique"):
        PentestIn.model_validate(
            {
                "name": "t",
                "performed_on": "2026-01-01",
                "findings": [
                    {"id": "A", "title": "a", "severity": "low"},
                    {"id": "A", "title": "b", "severity": "low"},
                ],
            }
        )
