"""Contracts (clause checklist, dates, renewals) and pentests (findings, remediation SLA).

The clause checklist is fixed data (:data:`CLAUSES`); a contract stores which clauses it has.
Remediation SLA: a finding without an explicit ``due_on`` is due ``SLA_DAYS[severity]`` after
the test; an open finding past its due date is overdue. Nothing here calls ``datetime.now()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ringfence.store.models import Vendor
from ringfence.vendors.models import (
    Contract,
    FindingStatus,
    Pentest,
    PentestFinding,
    Severity,
)
from ringfence.vendors.schemas import ContractIn, PentestIn

# key → sentence used in explanations.
CLAUSES: dict[str, str] = {
    "dpa": "data processing agreement (DPA)",
    "sccs": "standard contractual clauses (SCCs) for transfers",
    "breach_notification_hours": "breach notification within a fixed number of hours",
    "right_to_audit": "right to audit",
    "subprocessor_notice": "notice of new sub-processors",
    "deletion_on_termination": "deletion of data on termination",
    "security_requirements": "security requirements",
    "cyber_insurance": "cyber insurance",
}
MAX_BREACH_NOTIFICATION_HOURS = 72
SLA_DAYS: dict[Severity, int] = {
    Severity.CRITICAL: 15,
    Severity.HIGH: 30,
    Severity.MEDIUM: 90,
    Severity.LOW: 180,
    Severity.INFO: 365,
}
OPEN_STATES = (FindingStatus.OPEN, FindingStatus.IN_PROGRESS)


def present_clauses(clauses: dict[str, object]) -> set[str]:
    """Clauses a contract has; breach notification counts only within 72 hours."""
    have: set[str] = set()
    for key in CLAUSES:
        value = clauses.get(key)
        if key == "breach_notification_hours":
            if isinstance(value, int) and 0 < value <= MAX_BREACH_NOTIFICATION_HOURS:
                have.add(key)
        elif value is True:
            have.add(key)
    return have


def add_contract(session: Session, vendor: Vendor, data: ContractIn) -> Contract:
    row = Contract(
        vendor_id=vendor.id,
        name=data.name,
        start_on=data.start_on,
        end_on=data.end_on,
        renewal_on=data.renewal_on,
        auto_renew=data.auto_renew,
        notice_days=data.notice_days,
        clauses=data.clauses.model_dump(),
    )
    session.add(row)
    session.flush()
    return row


def active_contracts(session: Session, vendor_id: str | None, today: date) -> list[Contract]:
    """Contracts in force today, of one vendor or (``None``) of every vendor."""
    query = select(Contract)
    if vendor_id is not None:
        query = query.where(Contract.vendor_id == vendor_id)
    rows = session.scalars(query).all()
    return [
        c
        for c in rows
        if (c.start_on is None or c.start_on <= today) and (c.end_on is None or c.end_on >= today)
    ]


def clause_coverage(contracts: list[Contract]) -> set[str]:
    have: set[str] = set()
    for c in contracts:
        have |= present_clauses(c.clauses)
    return have


@dataclass(frozen=True)
class Renewal:
    vendor_id: str
    contract: str
    renewal_on: date
    notice_by: date
    auto_renew: bool


def renewals_due(session: Session, today: date, within_days: int = 90) -> list[Renewal]:
    """Contracts whose renewal (or end) date falls within ``within_days``."""
    out = []
    for c in session.scalars(select(Contract)):
        when = c.renewal_on or c.end_on
        if when is None or not today <= when <= today + timedelta(days=within_days):
            continue
        out.append(
            Renewal(c.vendor_id, c.name, when, when - timedelta(days=c.notice_days), c.auto_renew)
        )
    return sorted(out, key=lambda r: r.renewal_on)


def add_pentest(session: Session, vendor: Vendor, data: PentestIn) -> Pentest:
    row = Pentest(
        vendor_id=vendor.id, name=data.name, tester=data.tester, performed_on=data.performed_on
    )
    row.findings = [
        PentestFinding(
            ref=f.id,
            title=f.title,
            severity=f.severity,
            status=f.status,
            due_on=f.due_on or data.performed_on + timedelta(days=SLA_DAYS[f.severity]),
            resolved_on=f.resolved_on,
        )
        for f in data.findings
    ]
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class OpenFinding:
    vendor_id: str
    pentest: str
    ref: str
    title: str
    severity: Severity
    due_on: date | None
    days_overdue: int  # 0 when not overdue

    @property
    def overdue(self) -> bool:
        return self.days_overdue > 0


def open_findings(session: Session, today: date, vendor_id: str | None = None) -> list[OpenFinding]:
    query = (
        select(PentestFinding, Pentest)
        .join(Pentest, PentestFinding.pentest_id == Pentest.id)
        .where(PentestFinding.status.in_(OPEN_STATES))
    )
    if vendor_id is not None:
        query = query.where(Pentest.vendor_id == vendor_id)
    out = []
    for finding, test in session.execute(query).tuples():
        late = (today - finding.due_on).days if finding.due_on else 0
        out.append(
            OpenFinding(
                vendor_id=test.vendor_id,
                pentest=test.name,
                ref=finding.ref,
                title=finding.title,
                severity=finding.severity,
                due_on=finding.due_on,
                days_overdue=max(0, late),
            )
        )
    order = list(Severity)
    return sorted(out, key=lambda f: (order.index(f.severity), f.due_on or date.max))


def latest_pentest(session: Session, vendor_id: str) -> Pentest | None:
    return session.scalar(
        select(Pentest)
        .where(Pentest.vendor_id == vendor_id)
        .order_by(Pentest.performed_on.desc())
        .limit(1)
    )
