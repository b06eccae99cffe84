"""The ``vendor_risk:`` section of ``ringfence.yaml``, registered with the estate engine.

One item per vendor (``name`` = a vendor declared under ``vendors:``): tier, services, the
communication protocol and contacts, certification metadata, contracts with their clause
checklist, pentests with findings, and optionally the last questionnaire completed outside
Ringfence. The section owns the profile and the evidence rows it created (``origin =
"estate"``); rows added through the API or a questionnaire link are never touched by apply.
It carries metadata only: no document bytes, no questionnaire tokens, no secrets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ringfence.core.errors import NotFoundError
from ringfence.core.reserved import estate_name_problems
from ringfence.inventory.sections import (
    ApplyContext,
    EstateSection,
    EstateView,
    SectionItem,
    SectionProblem,
    register_plan_check,
    register_section,
)
from ringfence.store.models import Vendor
from ringfence.vendors import contracts, evidence, profiles
from ringfence.vendors.bank import default_bank
from ringfence.vendors.contracts import SLA_DAYS
from ringfence.vendors.models import (
    Assessment,
    AssessmentStatus,
    Certification,
    CertKind,
    Contract,
    Pentest,
    Tier,
    VendorProfile,
)
from ringfence.vendors.schemas import (
    CHANNELS,
    CertificationIn,
    ContactIn,
    ContractIn,
    Domain,
    Email,
    PentestIn,
    ProfileIn,
    RecordDate,
)

ESTATE = "estate"


class ProtocolSpec(SectionItem):
    channel: str = "email"
    hours: str = Field(default="24x7", max_length=120)
    breach_notification_address: Email | None = None
    contacts: list[ContactIn] = Field(default_factory=list, max_length=20)

    @field_validator("channel")
    @classmethod
    def _channel(cls, v: str) -> str:
        if v not in CHANNELS:
            raise ValueError(f"channel must be one of: {', '.join(CHANNELS)}")
        return v

    @field_validator("contacts")
    @classmethod
    def _sorted(cls, v: list[ContactIn]) -> list[ContactIn]:
        orders = [c.escalation_order for c in v]
        if len(orders) != len(set(orders)):
            raise ValueError("escalation_order values must be unique")
        return sorted(v, key=lambda c: c.escalation_order)


class AssessmentRecord(SectionItem):
    """A questionnaire completed outside Ringfence (e.g. on paper or in another tool)."""

    completed_on: RecordDate
    template: str = Field(default="full", pattern="^(lite|full)$")
    score: float = Field(ge=0, le=100)


class VendorRiskSpec(SectionItem):
    name: str = Field(min_length=1, max_length=200)
    tier: Tier = Tier.MEDIUM
    services: list[Annotated[str, Field(min_length=1, max_length=120)]] = Field(
        default_factory=list, max_length=50
    )
    domains: list[Domain] = Field(default_factory=list, max_length=50)
    protocol: ProtocolSpec | None = None
    notes: str = Field(default="", max_length=4000)
    certifications: list[CertificationIn] = Field(default_factory=list, max_length=50)
    contracts: list[ContractIn] = Field(default_factory=list, max_length=50)
    pentests: list[PentestIn] = Field(default_factory=list, max_length=50)
    assessment: AssessmentRecord | None = None

    @field_validator("certifications")
    @classmethod
    def _certs(cls, v: list[CertificationIn]) -> list[CertificationIn]:
        return sorted(v, key=lambda c: (c.kind.value, c.name, str(c.period_end or c.expires_on)))

    @field_validator("contracts")
    @classmethod
    def _contracts(cls, v: list[ContractIn]) -> list[ContractIn]:
        return sorted(v, key=lambda c: c.name)

    @field_validator("pentests")
    @classmethod
    def _pentests(cls, v: list[PentestIn]) -> list[PentestIn]:
        for p in v:
            p.findings.sort(key=lambda f: f.id)
        return sorted(v, key=lambda p: (p.performed_on, p.name))

    @model_validator(mode="after")
    def _profile_fits(self) -> VendorRiskSpec:
        # apply stores the item through ProfileIn: whatever it refuses (a blank service, ...)
        # is a located problem in the file, not an error raised half-way through apply.
        try:
            self.profile()
        except PydanticValidationError as exc:
            err = exc.errors(include_input=False, include_url=False)[0]
            where = ".".join(str(part) for part in err["loc"])
            raise ValueError(f"{where}: {err['msg']}" if where else err["msg"]) from None
        return self

    def profile(self) -> ProfileIn:
        proto = self.protocol or ProtocolSpec()
        return ProfileIn(
            tier=self.tier,
            domains=list(self.domains),
            services=list(self.services),
            channel=proto.channel,
            hours=proto.hours,
            breach_notification_address=proto.breach_notification_address,
            contacts=list(proto.contacts),
            notes=self.notes,
        )


def load_vendor_risk(session: Session) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for profile in session.scalars(select(VendorProfile)):
        vendor = profile.vendor
        data = profiles.profile_as_input(profile).model_dump(mode="json")
        protocol: dict[str, Any] | None = {
            "channel": data["channel"],
            "hours": data["hours"],
            "breach_notification_address": data["breach_notification_address"],
            "contacts": data["contacts"],
        }
        if protocol == ProtocolSpec().model_dump(mode="json"):
            protocol = None  # the file left it out: defaults only
        item: dict[str, Any] = {
            "name": vendor.name,
            "tier": data["tier"],
            "services": data["services"],
            "domains": data["domains"],
            "notes": data["notes"],
            "protocol": protocol,
        }
        item["certifications"] = [
            {
                k: v
                for k, v in {
                    "kind": c.kind.value,
                    "name": c.name,
                    "issuer": c.issuer,
                    "period_start": c.period_start,
                    "period_end": c.period_end,
                    "issued_on": c.issued_on,
                    # A derived SOC 2 end date was not declared: leave it implied.
                    "expires_on": None
                    if c.kind in (CertKind.SOC2_TYPE1, CertKind.SOC2_TYPE2)
                    and c.period_end is not None
                    and c.expires_on == c.period_end + evidence.SOC2_CURRENCY
                    else c.expires_on,
                }.items()
                if v not in (None, "")
            }
            for c in session.scalars(
                select(Certification).where(
                    Certification.vendor_id == vendor.id, Certification.origin == ESTATE
                )
            )
        ]
        item["contracts"] = [
            {
                "name": c.name,
                "start_on": c.start_on,
                "end_on": c.end_on,
                "renewal_on": c.renewal_on,
                "auto_renew": c.auto_renew,
                "notice_days": c.notice_days,
                "clauses": dict(c.clauses),
            }
            for c in session.scalars(
                select(Contract).where(Contract.vendor_id == vendor.id, Contract.origin == ESTATE)
            )
        ]
        item["pentests"] = [
            {
                "name": p.name,
                "tester": p.tester,
                "performed_on": p.performed_on,
                "findings": [
                    {
                        "id": f.ref,
                        "title": f.title,
                        "severity": f.severity.value,
                        "status": f.status.value,
                        # The SLA default is implied; only an explicit date is declared.
                        "due_on": None
                        if f.due_on == p.performed_on + timedelta(days=SLA_DAYS[f.severity])
                        else f.due_on,
                        "resolved_on": f.resolved_on,
                    }
                    for f in p.findings
                ],
            }
            for p in session.scalars(
                select(Pentest).where(Pentest.vendor_id == vendor.id, Pentest.origin == ESTATE)
            )
        ]
        record = session.scalar(
            select(Assessment)
            .where(Assessment.vendor_id == vendor.id, Assessment.source == ESTATE)
            .order_by(Assessment.submitted_at.desc())
            .limit(1)
        )
        if record is not None and record.submitted_at is not None:
            item["assessment"] = {
                "completed_on": record.submitted_at.date(),
                "template": record.template,
                "score": record.score,
            }
        out[vendor.name] = item
    return out


def _clear_estate_rows(session: Session, vendor_id: str) -> None:
    for model in (Certification, Contract):
        session.execute(delete(model).where(model.vendor_id == vendor_id, model.origin == ESTATE))
    for p in session.scalars(
        select(Pentest).where(Pentest.vendor_id == vendor_id, Pentest.origin == ESTATE)
    ):
        session.delete(p)  # cascades to its findings
    session.execute(
        delete(Assessment).where(Assessment.vendor_id == vendor_id, Assessment.source == ESTATE)
    )
    session.flush()


def apply_vendor_risk(
    session: Session,
    creates: Sequence[VendorRiskSpec],
    updates: Sequence[VendorRiskSpec],
    deletes: Sequence[str],
    ctx: ApplyContext,
) -> None:
    bank = default_bank()
    for spec in [*creates, *updates]:
        # ringfence.yaml names vendors (check_vendor_risk checked this one): by name only, never
        # the vendor whose id a name happens to spell.
        vendor = session.scalar(select(Vendor).where(Vendor.name == spec.name))
        if vendor is None:
            raise NotFoundError(f"vendor_risk: no vendor named {spec.name!r}")
        profiles.set_profile(session, vendor, spec.profile())
        _clear_estate_rows(session, vendor.id)
        for cert in spec.certifications:
            evidence.add_certification(session, vendor, cert).origin = ESTATE
        for con in spec.contracts:
            contracts.add_contract(session, vendor, con).origin = ESTATE
        for test in spec.pentests:
            contracts.add_pentest(session, vendor, test).origin = ESTATE
        if spec.assessment is not None:
            rec = spec.assessment
            when = datetime.combine(rec.completed_on, time(0, 0), tzinfo=UTC)
            tmpl = bank.template(rec.template)
            session.add(
                Assessment(
                    vendor_id=vendor.id,
                    template=tmpl.name,
                    template_version=tmpl.version,
                    question_ids=tmpl.question_ids,
                    status=AssessmentStatus.SUBMITTED,
                    token_hash=None,
                    sent_at=when,
                    expires_at=when,
                    submitted_at=when,
                    answers={},
                    score=rec.score,
                    domain_scores={},
                    source=ESTATE,
                )
            )
    for name in deletes:
        gone = session.scalar(select(Vendor).where(Vendor.name == name))
        if gone is None:
            continue
        _clear_estate_rows(session, gone.id)
        profile = profiles.get_profile(session, gone.id)
        if profile is not None:
            session.delete(profile)


def check_vendor_risk(items: Sequence[VendorRiskSpec], estate: EstateView) -> list[SectionProblem]:
    problems: list[SectionProblem] = []
    for i, item in enumerate(items):
        if not estate.has("vendors", item.name):
            problems.append(
                SectionProblem(i, "name", f"unknown vendor {item.name!r}: declare it under vendors")
            )
    return problems


def vendor_risk_ids(session: Session) -> Mapping[str, str]:
    rows = session.execute(
        select(Vendor.name, VendorProfile.id).join(
            VendorProfile, VendorProfile.vendor_id == Vendor.id
        )
    )
    return {str(n): str(i) for n, i in rows}


SECTION = register_section(
    EstateSection(
        key="vendor_risk",
        model=VendorRiskSpec,
        load_current=load_vendor_risk,
        apply=apply_vendor_risk,
        check_references=check_vendor_risk,
        order=150,
        entity_type="vendor_risk",
        ids=vendor_risk_ids,
        description="Vendor tier, communication protocol, certifications, contracts, pentests.",
    )
)


# A vendor, app, integration, credential or flow the file creates may not take a name its
# /{ref} route cannot reach: '/', '.', '..', or a literal route's segment beside it (vendors:
# /vendor-risk/reminders...). One check for every such section (core.reserved); entries stored
# before under such a name are only reported, so an unrelated apply is not blocked.
register_plan_check("names.addressable", estate_name_problems)
