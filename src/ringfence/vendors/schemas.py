"""Validated input shapes for vendor-risk data, shared by the API, the CLI and ringfence.yaml.

Everything that enters the vendor-risk tables passes through one of these models first, so a
bad date, an unknown clause or a duplicate escalation order is a clear error naming the field
— never a database exception. These models never carry document bytes or secrets.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from ringfence.inventory.sections import inline_secret_problem
from ringfence.vendors.models import CertKind, FindingStatus, Severity, Tier

_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}$")
CHANNELS = ("email", "phone", "slack", "teams", "portal", "pagerduty")


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("is not an email address")
    return value.lower()


def _domain(value: str) -> str:
    if not _DOMAIN.match(value):
        raise ValueError(f"{value!r} is not a domain name")
    return value.lower()


Email = Annotated[str, AfterValidator(_email)]
Domain = Annotated[str, AfterValidator(_domain)]

# The dates a vendor-risk record can carry. Dates are computed with (a SOC 2 period end + 12
# months, a test date + the remediation SLA, a completion + the reassessment cadence), and one
# near 9999-12-31 overflowed there: a 500 (or a 422 not naming the field) where it was
# entered, or, stored through ringfence.yaml, every vendor's score failing to compute.
EARLIEST_DATE = date(1970, 1, 1)
LATEST_DATE = date(2199, 12, 31)


def _plausible(value: date) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(f"must be a date between {EARLIEST_DATE} and {LATEST_DATE}")
    return value


RecordDate = Annotated[date, AfterValidator(_plausible)]

# A SOC 2 report is current for 12 months after the end of its period (Type II) or its "as of"
# date (Type I); ringfence.vendors.evidence derives the validity end from it.
SOC2_CURRENCY = timedelta(days=365)


def soc2_cap(period_end: date) -> date:
    """The last day a SOC 2 report ending ``period_end`` may count as current."""
    return period_end + SOC2_CURRENCY


# C0 controls other than tab, line feed and carriage return, and DEL: a NUL cannot be stored
# in PostgreSQL text (a 422 naming nothing), and none of them belongs in a name, a title or a
# note shown in the console, the CLI or an export. Questionnaire answers refuse them too.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def text_problem(text: str) -> str | None:
    """Why ``text`` may not be stored in a vendor-risk field, or None; never echoes it.

    Besides control characters: a value shaped like a credential (a questionnaire link's
    ``rf_vq_`` token pasted into the notes, a GitHub token, a URL with ``user:password@``) —
    the rows are plain text any read-scoped caller sees, and a questionnaire link read there
    lets its reader answer on the vendor's behalf."""
    found = _CONTROL.search(text)
    if found is not None:
        return f"contains the control character U+{ord(found.group()):04X}"
    secret = inline_secret_problem(text)
    if secret is not None:
        return f"{secret}; vendor-risk fields are not a place for credentials"
    return None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="after")
    def _storable_text(self) -> _Strict:
        for name in type(self).model_fields:
            for text in _strings(getattr(self, name)):
                problem = text_problem(text)
                if problem is not None:
                    raise ValueError(f"{name} {problem}")
        return self


class ContactIn(_Strict):
    name: str = Field(min_length=1, max_length=200)
    email: Email
    phone: str | None = Field(default=None, max_length=40)
    role: str = Field(default="security", max_length=120)
    escalation_order: int = Field(default=1, ge=1, le=20)


class ProfileIn(_Strict):
    """Tier, footprint and the agreed communication protocol of one vendor."""

    tier: Tier = Tier.MEDIUM
    domains: list[Domain] = Field(default_factory=list, max_length=50)
    services: list[Annotated[str, Field(min_length=1, max_length=120)]] = Field(
        default_factory=list, max_length=50
    )
    channel: str = "email"
    hours: str = Field(default="24x7", max_length=120)
    breach_notification_address: Email | None = None
    contacts: list[ContactIn] = Field(default_factory=list, max_length=20)
    notes: str = Field(default="", max_length=4000)

    @model_validator(mode="after")
    def _check(self) -> ProfileIn:
        if self.channel not in CHANNELS:
            raise ValueError(f"channel must be one of: {', '.join(CHANNELS)}")
        orders = [c.escalation_order for c in self.contacts]
        if len(orders) != len(set(orders)):
            raise ValueError("contacts: escalation_order values must be unique")
        return self


class CertificationIn(_Strict):
    kind: CertKind
    name: str = Field(default="", max_length=200)
    issuer: str = Field(default="", max_length=200)
    period_start: RecordDate | None = None
    period_end: RecordDate | None = None
    issued_on: RecordDate | None = None
    expires_on: RecordDate | None = None

    @model_validator(mode="after")
    def _check(self) -> CertificationIn:
        if self.kind is CertKind.SOC2_TYPE2 and (
            self.period_start is None or self.period_end is None
        ):
            raise ValueError("a SOC 2 Type II report needs period_start and period_end")
        if self.kind is CertKind.SOC2_TYPE1 and self.period_end is None:
            raise ValueError("a SOC 2 Type I report needs period_end (the 'as of' date)")
        if self.kind in (CertKind.ISO27001, CertKind.PCI_DSS) and self.expires_on is None:
            raise ValueError(f"a {self.kind.value} certificate needs expires_on")
        if self.kind is CertKind.OTHER and not self.name:
            raise ValueError("an 'other' certification needs a name")
        if self.period_start and self.period_end and self.period_start > self.period_end:
            raise ValueError("period_start is after period_end")
        if self.issued_on and self.expires_on and self.issued_on > self.expires_on:
            raise ValueError("issued_on is after expires_on")
        if (
            self.kind in (CertKind.SOC2_TYPE1, CertKind.SOC2_TYPE2)
            and self.period_end is not None
            and self.expires_on is not None
            and self.expires_on > soc2_cap(self.period_end)
        ):
            # A later date would keep an old report counting (and taking points off the risk
            # score) for as long as someone typed: refused, not clamped, so the person entering
            # it learns the report is older than they thought instead of seeing another date.
            raise ValueError(
                f"expires_on {self.expires_on} is after {soc2_cap(self.period_end)}: a SOC 2 "
                "report is current for at most 12 months after period_end; omit expires_on "
                "to use that date, or give an earlier one (e.g. a report withdrawn)"
            )
        return self


class ClausesIn(_Strict):
    """The contract clause checklist; see ringfence.vendors.contracts.CLAUSES."""

    dpa: bool = False
    sccs: bool = False
    breach_notification_hours: int | None = Field(default=None, ge=1, le=8760)
    right_to_audit: bool = False
    subprocessor_notice: bool = False
    deletion_on_termination: bool = False
    security_requirements: bool = False
    cyber_insurance: bool = False


class ContractIn(_Strict):
    name: str = Field(min_length=1, max_length=200)
    start_on: RecordDate | None = None
    end_on: RecordDate | None = None
    renewal_on: RecordDate | None = None
    auto_renew: bool = False
    notice_days: int = Field(default=30, ge=0, le=365)
    clauses: ClausesIn = Field(default_factory=ClausesIn)

    @model_validator(mode="after")
    def _check(self) -> ContractIn:
        if self.start_on and self.end_on and self.start_on > self.end_on:
            raise ValueError("start_on is after end_on")
        return self


class FindingIn(_Strict):
    id: str = Field(min_length=1, max_length=40)
    title: str = Field(min_length=1, max_length=300)
    severity: Severity
    status: FindingStatus = FindingStatus.OPEN
    due_on: RecordDate | None = None
    resolved_on: RecordDate | None = None


class PentestIn(_Strict):
    name: str = Field(min_length=1, max_length=200)
    tester: str = Field(default="", max_length=200)
    performed_on: RecordDate
    findings: list[FindingIn] = Field(default_factory=list, max_length=500)

    @model_validator(mode="after")
    def _check(self) -> PentestIn:
        refs = [f.id for f in self.findings]
        if len(refs) != len(set(refs)):
            raise ValueError("findings: id values must be unique within a pentest")
        return self
