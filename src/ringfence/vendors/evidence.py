"""Certifications and their validity; expiry reminders at 60, 30 and 7 days.

Validity rules: ISO/IEC 27001, PCI DSS and "other" certificates are valid until ``expires_on``.
SOC 2 reports carry no expiry date, so a report is treated as current for 12 months after the
end of its period (Type II) or its "as of" date (Type I) — the usual bridge-letter practice —
unless an earlier ``expires_on`` is given; that derived date is stored in ``expires_on``. An
explicit ``expires_on`` can shorten a report's currency, never extend it: the input schema
refuses a later one, and ``valid_until`` caps a row stored before it did.
Only the newest certification of each kind counts. This module reads the clock it is given;
it never calls ``datetime.now()``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ringfence.core.clock import Clock
from ringfence.store.models import Vendor
from ringfence.vendors.models import Certification, CertKind
from ringfence.vendors.schemas import SOC2_CURRENCY as SOC2_CURRENCY  # estate_section reads it
from ringfence.vendors.schemas import CertificationIn, soc2_cap

REMINDER_DAYS: tuple[int, ...] = (60, 30, 7)
CERT_LABELS = {
    CertKind.SOC2_TYPE1: "SOC 2 Type I",
    CertKind.SOC2_TYPE2: "SOC 2 Type II",
    CertKind.ISO27001: "ISO/IEC 27001",
    CertKind.PCI_DSS: "PCI DSS",
    CertKind.OTHER: "certification",
}


class CertState(enum.StrEnum):
    VALID = "valid"
    EXPIRING = "expiring"  # valid, within the first reminder window
    EXPIRED = "expired"


@dataclass(frozen=True)
class CertStatus:
    id: str
    vendor_id: str
    kind: CertKind
    label: str
    valid_until: date | None
    state: CertState
    days_left: int | None  # negative once expired

    @property
    def valid(self) -> bool:
        return self.state is not CertState.EXPIRED


def add_certification(session: Session, vendor: Vendor, data: CertificationIn) -> Certification:
    row = Certification(vendor_id=vendor.id, **data.model_dump())
    # Store the derived validity end of a SOC 2 report, so readers of the table that look
    # only at expires_on (e.g. SQL reports) see the same date as valid_until() does.
    row.expires_on = valid_until(row)
    session.add(row)
    session.flush()
    return row


def valid_until(cert: Certification) -> date | None:
    if cert.kind in (CertKind.SOC2_TYPE1, CertKind.SOC2_TYPE2) and cert.period_end:
        cap = soc2_cap(cert.period_end)
        # min(): a row stored before later dates were refused cannot outlive the report.
        return cap if cert.expires_on is None else min(cert.expires_on, cap)
    return cert.expires_on


def label(cert: Certification) -> str:
    if cert.kind is CertKind.OTHER and cert.name:
        return cert.name
    return CERT_LABELS[cert.kind]


def status(cert: Certification, today: date) -> CertStatus:
    until = valid_until(cert)
    if until is None:
        state, days = CertState.VALID, None
    else:
        days = (until - today).days
        if days < 0:
            state = CertState.EXPIRED
        elif days <= REMINDER_DAYS[0]:
            state = CertState.EXPIRING
        else:
            state = CertState.VALID
    return CertStatus(cert.id, cert.vendor_id, cert.kind, label(cert), until, state, days)


def _newest_key(cert: Certification) -> tuple[date, date]:
    return (valid_until(cert) or date.max, cert.issued_on or cert.period_end or date.min)


def current_certifications(
    session: Session, today: date, vendor_id: str | None = None
) -> list[CertStatus]:
    """The newest certification of each kind (and each named 'other') per vendor."""
    query = select(Certification)
    if vendor_id is not None:
        query = query.where(Certification.vendor_id == vendor_id)
    newest: dict[tuple[str, str, str], Certification] = {}
    for cert in session.scalars(query):
        key = (cert.vendor_id, cert.kind.value, cert.name if cert.kind is CertKind.OTHER else "")
        if key not in newest or _newest_key(cert) > _newest_key(newest[key]):
            newest[key] = cert
    return sorted(
        (status(c, today) for c in newest.values()), key=lambda s: (s.vendor_id, s.kind.value)
    )


@dataclass(frozen=True)
class Reminder:
    vendor: str
    certification_id: str
    label: str
    valid_until: date
    days_left: int
    stage: int  # 60, 30 or 7: the window the certificate is in

    @property
    def key(self) -> str:
        """Stable id for de-duplication: one notification per certificate and stage."""
        return f"{self.certification_id}:{self.stage}"

    @property
    def message(self) -> str:
        return (
            f"{self.vendor}: {self.label} expires on {self.valid_until.isoformat()} "
            f"(in {self.days_left} days)"
        )


def due_reminders(session: Session, clock: Clock) -> list[Reminder]:
    """Certificates that are within 60, 30 or 7 days of expiry today (not yet expired).

    ``stage`` is the smallest window the certificate has entered, so a caller that remembers
    ``Reminder.key`` sends exactly three reminders per certificate, even if it runs irregularly.
    """
    today = clock.now().date()
    names = dict(session.execute(select(Vendor.id, Vendor.name)).tuples().all())
    out: list[Reminder] = []
    for st in current_certifications(session, today):
        if st.days_left is None or st.valid_until is None or st.days_left < 0:
            continue
        stages = [d for d in REMINDER_DAYS if st.days_left <= d]
        if not stages:
            continue
        out.append(
            Reminder(
                vendor=names.get(st.vendor_id, st.vendor_id),
                certification_id=st.id,
                label=st.label,
                valid_until=st.valid_until,
                days_left=st.days_left,
                stage=min(stages),
            )
        )
    return sorted(out, key=lambda r: (r.days_left, r.vendor))
