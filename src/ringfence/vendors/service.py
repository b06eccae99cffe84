"""Vendor-risk use cases shared by the API and the CLI: one unit of work, one audit record.

Each function takes a Runtime and the actor, does its work in one transaction and appends an
audit record in it. Nothing here returns a document's bytes or a link token except the
explicit ``read_document`` / ``send_assessment`` results meant for the caller.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from ringfence.core.reserved import name_problem
from ringfence.runtime import Runtime
from ringfence.store import audit
from ringfence.store.models import Vendor
from ringfence.vendors import assessments as asm
from ringfence.vendors import contracts, documents, evidence, profiles, transfer
from ringfence.vendors.models import Assessment, Certification, Contract, Pentest
from ringfence.vendors.schemas import CertificationIn, ContractIn, PentestIn, ProfileIn
from ringfence.vendors.scoring import VendorRisk, vendor_risk


def _audit(
    s: Any,
    rt: Runtime,
    actor: str,
    action: str,
    kind: str,
    eid: str,
    after: Any,
    before: Any = None,
) -> None:
    audit.append(
        s,
        actor=actor,
        action=f"vendor_risk.{action}",
        entity_type=kind,
        entity_id=eid,
        before=before,
        after=after,
        clock=rt.clock,
    )


def risk(rt: Runtime, vendor: str | None = None) -> list[VendorRisk]:
    with rt.store.session() as s:
        if vendor is not None:
            profiles.find_vendor(s, vendor)
        return vendor_risk(s, rt.clock, vendor)


def set_profile(rt: Runtime, actor: str, vendor: str, data: ProfileIn) -> dict[str, Any]:
    with rt.store.session() as s:
        v = profiles.find_vendor(s, vendor)
        # The profile it replaces goes into the record too: a breach-notification address or
        # an escalation contact swapped for another must show what it was.
        old = profiles.get_profile(s, v.id)
        before = profiles.profile_as_input(old).model_dump(mode="json") if old else None
        profiles.set_profile(s, v, data)
        out = data.model_dump(mode="json")
        _audit(s, rt, actor, "profile.set", "vendor_profile", v.id, out, before)
        return out


@dataclass(frozen=True)
class SentLink:
    assessment_id: str
    vendor: str
    template: str
    template_version: str
    questions: int
    expires_at: datetime
    link: str


def send_assessment(
    rt: Runtime,
    actor: str,
    vendor: str,
    *,
    base_url: str,
    template: str | None = None,
    recipient: str | None = None,
    days: int = asm.DEFAULT_LINK_DAYS,
) -> SentLink:
    with rt.store.session() as s:
        v = profiles.find_vendor(s, vendor)
        sent = asm.send(s, v, rt.clock, template=template, recipient=recipient, days=days)
        row = sent.assessment
        _audit(
            s,
            rt,
            actor,
            "assessment.send",
            "vendor_assessment",
            row.id,
            {"vendor": v.name, "template": row.template, "expires_at": row.expires_at.isoformat()},
        )
        return SentLink(
            row.id,
            v.name,
            row.template,
            row.template_version,
            len(row.question_ids),
            row.expires_at,
            sent.link(base_url),
        )


def assessment_row(s: Any, assessment_id: str) -> Assessment:
    from ringfence.core.errors import NotFoundError

    row: Assessment | None = s.get(Assessment, assessment_id)
    if row is None:
        raise NotFoundError(f"no assessment {assessment_id!r}")
    return row


def assessment_summary(row: Assessment, vendor: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "vendor": vendor,
        "template": row.template,
        "template_version": row.template_version,
        "status": row.status.value,
        "source": row.source,
        "sent_at": row.sent_at,
        "expires_at": row.expires_at,
        "submitted_at": row.submitted_at,
        "score": row.score,
        "domain_scores": dict(row.domain_scores),
    }


def list_assessments(rt: Runtime, vendor: str) -> list[dict[str, Any]]:
    with rt.store.session() as s:
        v = profiles.find_vendor(s, vendor)
        rows = s.scalars(
            select(Assessment).where(Assessment.vendor_id == v.id).order_by(Assessment.sent_at)
        )
        return [assessment_summary(r, v.name) for r in rows]


def revoke_assessment(rt: Runtime, actor: str, assessment_id: str) -> dict[str, Any]:
    with rt.store.session() as s:
        row = asm.revoke(s, assessment_id)
        _audit(s, rt, actor, "assessment.revoke", "vendor_assessment", row.id, None)
        return {"id": row.id, "status": row.status.value}


def export_assessment(rt: Runtime, actor: str, assessment_id: str, fmt: str) -> tuple[bytes, str]:
    """The questionnaire as XLSX/CSV, audited as ``vendor_risk.assessment.export``.

    An export carries the vendor's answers (often under NDA, like the evidence documents
    whose downloads are audited): who took a copy of which vendor's questionnaire, in which
    format, is part of its trail. The record commits with the read; no record, no file."""
    with rt.store.session() as s:
        row = assessment_row(s, assessment_id)
        v = profiles.find_vendor(s, row.vendor_id)
        data = transfer.export_assessment(row, fmt, v.name)
        _audit(
            s,
            rt,
            actor,
            "assessment.export",
            "vendor_assessment",
            row.id,
            {
                "vendor": v.name,
                "vendor_id": v.id,
                "format": fmt,
                "status": row.status.value,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            },
        )
        return data, v.name


def import_assessment(
    rt: Runtime,
    actor: str,
    assessment_id: str,
    content: bytes,
    *,
    fmt: str | None = None,
    filename: str | None = None,
) -> dict[str, Any]:
    with rt.store.session() as s:
        row = assessment_row(s, assessment_id)
        v = profiles.find_vendor(s, row.vendor_id)
        transfer.import_answers(s, row, content, rt.clock, fmt=fmt, filename=filename)
        out = assessment_summary(row, v.name)
        _audit(
            s,
            rt,
            actor,
            "assessment.import",
            "vendor_assessment",
            row.id,
            {"score": row.score, "source": "import"},
        )
        return out


def add_certification(rt: Runtime, actor: str, vendor: str, data: CertificationIn) -> str:
    with rt.store.session() as s:
        v = profiles.find_vendor(s, vendor)
        row = evidence.add_certification(s, v, data)
        _audit(
            s,
            rt,
            actor,
            "certification.add",
            "vendor_certification",
            row.id,
            data.model_dump(mode="json"),
        )
        return row.id


def add_contract(rt: Runtime, actor: str, vendor: str, data: ContractIn) -> str:
    with rt.store.session() as s:
        v = profiles.find_vendor(s, vendor)
        row = contracts.add_contract(s, v, data)
        _audit(
            s, rt, actor, "contract.add", "vendor_contract", row.id, data.model_dump(mode="json")
        )
        return row.id


def add_pentest(rt: Runtime, actor: str, vendor: str, data: PentestIn) -> str:
    with rt.store.session() as s:
        v = profiles.find_vendor(s, vendor)
        row = contracts.add_pentest(s, v, data)
        _audit(s, rt, actor, "pentest.add", "vendor_pentest", row.id, data.model_dump(mode="json"))
        return row.id


def upload_document(
    rt: Runtime,
    actor: str,
    vendor: str,
    *,
    filename: str,
    content: bytes,
    content_type: str = "application/octet-stream",
) -> documents.DocumentInfo:
    with rt.store.session() as s:
        vendor_id = profiles.find_vendor(s, vendor).id
    # The document's sealed key is written in this transaction (store_document, session=).
    with rt.store.session() as s:
        row = documents.store_document(
            s,
            rt.vault,
            rt.clock,
            vendor_id=vendor_id,
            filename=filename,
            content=content,
            content_type=content_type,
            actor=actor,
        )
        s.flush()
        info = documents.info(row)
        _audit(
            s,
            rt,
            actor,
            "document.add",
            "vendor_document",
            row.id,
            {"filename": info.filename, "sha256": info.sha256, "size": info.size},
        )
        return info


def read_document(
    rt: Runtime, doc_id: str, actor: str | None = None
) -> tuple[documents.DocumentInfo, bytes]:
    """A document's bytes; with ``actor``, the read is audited (evidence is often under NDA —
    a SOC 2 report, a pentest summary — and who took a copy is part of its trail)."""
    with rt.store.session() as s:
        info, plain = documents.read_document(s, rt.vault, doc_id)
        if actor is not None:
            _audit(
                s,
                rt,
                actor,
                "document.read",
                "vendor_document",
                info.id,
                {"filename": info.filename, "sha256": info.sha256, "size": info.size},
            )
        return info, plain


def vendor_detail(rt: Runtime, vendor: str) -> dict[str, Any]:
    """Everything the console shows for one vendor (no document bytes, no tokens)."""
    today = rt.clock.now().date()
    with rt.store.session() as s:
        v = profiles.find_vendor(s, vendor)
        profile = profiles.get_profile(s, v.id)
        (r,) = vendor_risk(s, rt.clock, v.id)
        certs = s.scalars(select(Certification).where(Certification.vendor_id == v.id)).all()
        cons = s.scalars(select(Contract).where(Contract.vendor_id == v.id)).all()
        tests = s.scalars(select(Pentest).where(Pentest.vendor_id == v.id)).all()
        return {
            "vendor": v.name,
            "id": v.id,
            "domains": list(v.domains),
            "profile": profiles.profile_as_input(profile).model_dump(mode="json")
            if profile
            else None,
            "risk": risk_dict(r),
            "certifications": [
                {
                    **asdict(evidence.status(c, today)),
                    "issuer": c.issuer,
                    "period_start": c.period_start,
                    "period_end": c.period_end,
                }
                for c in certs
            ],
            "contracts": [
                {
                    "id": c.id,
                    "name": c.name,
                    "start_on": c.start_on,
                    "end_on": c.end_on,
                    "renewal_on": c.renewal_on,
                    "auto_renew": c.auto_renew,
                    "clauses": dict(c.clauses),
                    "present": sorted(contracts.present_clauses(c.clauses)),
                }
                for c in cons
            ],
            "pentests": [
                {
                    "id": t.id,
                    "name": t.name,
                    "tester": t.tester,
                    "performed_on": t.performed_on,
                    "findings": [
                        {
                            "id": f.ref,
                            "title": f.title,
                            "severity": f.severity.value,
                            "status": f.status.value,
                            "due_on": f.due_on,
                        }
                        for f in t.findings
                    ],
                }
                for t in tests
            ],
        }


def risk_dict(r: VendorRisk) -> dict[str, Any]:
    return {
        "vendor": r.vendor,
        "vendor_id": r.vendor_id,
        "tier": r.tier.value,
        "inherent": r.inherent,
        "residual": r.residual,
        "rating": r.rating,
        "highest_data_class": r.highest_data_class.label,
        "assessment": {
            "state": r.assessment.state.value,
            "score": r.assessment.score,
            "last_submitted_at": r.assessment.last_submitted_at,
            "next_due": r.assessment.next_due,
            "days_overdue": r.assessment.days_overdue,
        },
        "has_contract": r.has_contract,
        "has_dpa": r.has_dpa,
        "missing_clauses": list(r.missing_clauses),
        "expired_certifications": [c.label for c in r.expired_certifications],
        "open_findings": len(r.open_findings),
        "open_critical_findings": len(r.open_critical_findings),
        "overdue_findings": len(r.overdue_findings),
        "factors": [
            {"key": f.key, "part": f.part, "points": f.points, "sentence": f.sentence}
            for f in r.factors
        ],
        "explanation": [str(f) for f in r.factors],
        # Stored before such names were refused: /vendor-risk/{name} is another route, so the
        # vendor is reached by id only until renamed (core.reserved).
        "name_problem": name_problem("vendor", r.vendor),
    }


def renewals(session: Any, clock: Any, within_days: int = 90) -> list[dict[str, Any]]:
    names = dict(session.execute(select(Vendor.id, Vendor.name)).tuples().all())
    return [
        {
            "vendor": names.get(r.vendor_id, r.vendor_id),
            "contract": r.contract,
            "renewal_on": r.renewal_on,
            "notice_by": r.notice_by,
            "auto_renew": r.auto_renew,
        }
        for r in contracts.renewals_due(session, clock.now().date(), within_days)
    ]
