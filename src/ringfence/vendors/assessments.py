"""Questionnaire assessments: tokenised links, single-use submission, reassessment schedule.

A link carries a random 256-bit token; only its SHA-256 is stored, so a database reader cannot
answer on a vendor's behalf. A link works until ``expires_at`` and for exactly one submission:
the status flips from ``sent`` to ``submitted`` in one conditional UPDATE, so two concurrent
submissions cannot both win. This module never logs or stores a token in plaintext.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ringfence.core.clock import Clock
from ringfence.core.errors import ConflictError, NotFoundError, RingfenceError, ValidationError
from ringfence.store.models import Vendor
from ringfence.vendors.bank import (
    AnswerType,
    Bank,
    Question,
    default_bank,
    score_answers,
    validate_answers,
)
from ringfence.vendors.models import Assessment, AssessmentStatus, Tier, VendorDocument
from ringfence.vendors.profiles import tier_of

DEFAULT_LINK_DAYS = 21
MAX_LINK_DAYS = 90
# The rf_<kind>_ shape makes the log redaction and the estate secret scanner treat it as a
# secret (ringfence.core.logging).
TOKEN_PREFIX = "rf_vq_"
# Reassessment cadence per tier, in days since the last submitted questionnaire.
REASSESS_DAYS: dict[Tier, int] = {
    Tier.CRITICAL: 182,
    Tier.HIGH: 365,
    Tier.MEDIUM: 730,
    Tier.LOW: 1095,
}


class LinkGoneError(RingfenceError):
    """The link expired or was withdrawn: it will never work again."""

    code = "link_expired"
    status = 410
    title = "Link no longer valid"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SentAssessment:
    assessment: Assessment
    token: str  # shown once to the sender; never stored

    def link(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/vendor-assessments/{self.token}"


def send(
    session: Session,
    vendor: Vendor,
    clock: Clock,
    *,
    template: str | None = None,
    recipient: str | None = None,
    days: int = DEFAULT_LINK_DAYS,
    bank: Bank | None = None,
) -> SentAssessment:
    """Create an assessment and its one-time link; the template defaults by the vendor's tier."""
    bank = bank or default_bank()
    if not 1 <= days <= MAX_LINK_DAYS:
        raise ValidationError(f"link lifetime must be 1..{MAX_LINK_DAYS} days, got {days}")
    tmpl = (
        bank.template(template)
        if template
        else bank.template_for_tier(tier_of(session, vendor.id).value)
    )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = clock.now()
    row = Assessment(
        vendor_id=vendor.id,
        template=tmpl.name,
        template_version=tmpl.version,
        question_ids=tmpl.question_ids,
        questions=[q.model_dump(mode="json") for q in tmpl.questions],
        status=AssessmentStatus.SENT,
        token_hash=hash_token(token),
        recipient=recipient,
        sent_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(row)
    session.flush()
    return SentAssessment(row, token)


def questions_of(assessment: Assessment, bank: Bank | None = None) -> list[Question]:
    """The questions exactly as sent (the snapshot), whatever the bank's version is now."""
    if assessment.questions:
        return [Question.model_validate(q) for q in assessment.questions]
    return (bank or default_bank()).select(list(assessment.question_ids))


def open_by_token(session: Session, token: str, clock: Clock) -> Assessment:
    """The assessment a link opens, or a problem: 404 unknown, 410 expired, 409 already used."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        raise NotFoundError("this questionnaire link is not valid", code="unknown_link")
    row = session.scalar(select(Assessment).where(Assessment.token_hash == hash_token(token)))
    if row is None:
        raise NotFoundError("this questionnaire link is not valid", code="unknown_link")
    if row.status is AssessmentStatus.SUBMITTED:
        raise ConflictError(
            "this questionnaire was already submitted; links work once — ask your contact "
            "for a new link to change an answer",
            code="link_used",
        )
    if row.status is AssessmentStatus.REVOKED:
        raise LinkGoneError("this questionnaire link was withdrawn", code="link_revoked")
    if clock.now() >= row.expires_at:
        raise LinkGoneError(
            f"this questionnaire link expired on {row.expires_at:%Y-%m-%d %H:%M} UTC; "
            "ask your contact for a new link"
        )
    return row


def record_answers(
    session: Session,
    assessment: Assessment,
    raw: dict[str, Any],
    clock: Clock,
    *,
    source: str,
    bank: Bank | None = None,
) -> Assessment:
    """Validate, score and store answers once; ConflictError if someone submitted first."""
    questions = questions_of(assessment, bank)
    answers, errors = validate_answers(questions, raw)
    for q in questions:
        doc = answers.get(q.id) if q.type is AnswerType.EVIDENCE else None
        if doc is not None and not _document_belongs(session, doc, assessment, source):
            errors.append({"question": q.id, "problem": "no such uploaded document"})
    if errors:
        raise ValidationError(
            f"{len(errors)} answer(s) need attention: "
            + "; ".join(f"{e['question']}: {e['problem']}" for e in errors[:5]),
            errors=errors,
        )
    scored = score_answers(questions, answers)
    now = clock.now()
    result = session.execute(
        update(Assessment)
        .where(Assessment.id == assessment.id, Assessment.status == AssessmentStatus.SENT)
        .values(
            status=AssessmentStatus.SUBMITTED,
            submitted_at=now,
            answers=scored.answers,
            score=scored.score,
            domain_scores=scored.domain_scores,
            source=source,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ConflictError("this questionnaire was already submitted", code="link_used")
    session.refresh(assessment)
    return assessment


def _document_belongs(session: Session, doc_id: str, assessment: Assessment, source: str) -> bool:
    """Whether an evidence answer may cite ``doc_id``. Over a link, only a document uploaded
    through this questionnaire's own link: the vendor's earlier uploads (last year's pentest
    summary, whose id that link returned) and the documents staff filed for the vendor are
    not evidence the respondent gave now. An import by staff may cite any of the vendor's."""
    doc = session.get(VendorDocument, doc_id)
    if doc is None or doc.vendor_id != assessment.vendor_id:
        return False
    return source != "link" or doc.assessment_id == assessment.id


def submit_by_token(
    session: Session, token: str, raw: dict[str, Any], clock: Clock, bank: Bank | None = None
) -> Assessment:
    row = open_by_token(session, token, clock)
    return record_answers(session, row, raw, clock, source="link", bank=bank)


def revoke(session: Session, assessment_id: str) -> Assessment:
    row = session.get(Assessment, assessment_id)
    if row is None:
        raise NotFoundError(f"no assessment {assessment_id!r}")
    if row.status is not AssessmentStatus.SENT:
        raise ConflictError(f"assessment {assessment_id} is {row.status.value}, not sent")
    row.status = AssessmentStatus.REVOKED
    return row


class ScheduleState(enum.StrEnum):
    CURRENT = "current"
    PENDING = "pending"  # never completed, a link is out
    OVERDUE = "overdue"  # last completed too long ago, or never completed
    NONE = "none"  # never assessed and nothing sent


@dataclass(frozen=True)
class Schedule:
    state: ScheduleState
    last_submitted_at: datetime | None
    next_due: datetime | None
    score: float | None
    days_overdue: int


@dataclass(frozen=True)
class AssessmentFact:
    """The columns the schedule needs (not the answers or the question snapshot)."""

    status: AssessmentStatus
    submitted_at: datetime | None
    expires_at: datetime
    score: float | None


def assessment_facts(
    session: Session, vendor_ids: list[str] | None = None
) -> dict[str, list[AssessmentFact]]:
    query = select(
        Assessment.vendor_id,
        Assessment.status,
        Assessment.submitted_at,
        Assessment.expires_at,
        Assessment.score,
    )
    if vendor_ids is not None:
        query = query.where(Assessment.vendor_id.in_(vendor_ids))
    out: dict[str, list[AssessmentFact]] = {}
    for vid, st, sub, exp, sc in session.execute(query).tuples():
        out.setdefault(vid, []).append(AssessmentFact(st, sub, exp, sc))
    return out


def schedule_from(rows: list[AssessmentFact], tier: Tier, now: datetime) -> Schedule:
    """Where a vendor stands against the reassessment cadence of its tier.

    A questionnaire dated after ``now`` (a ``completed_on`` in ringfence.yaml; a link is
    stamped with the clock) has not been completed yet: counted, it kept the vendor current
    for years past its cadence and outranked every real submission made before that date."""
    done = [
        r
        for r in rows
        if r.status is AssessmentStatus.SUBMITTED and r.submitted_at and r.submitted_at <= now
    ]
    pending = [r for r in rows if r.status is AssessmentStatus.SENT and r.expires_at > now]
    if done:
        last = max(done, key=lambda r: r.submitted_at or now)
        assert last.submitted_at is not None
        due = last.submitted_at + timedelta(days=REASSESS_DAYS[tier])
        late = (now - due).days
        if now < due:
            return Schedule(ScheduleState.CURRENT, last.submitted_at, due, last.score, 0)
        return Schedule(ScheduleState.OVERDUE, last.submitted_at, due, last.score, max(late, 0))
    if pending:
        return Schedule(ScheduleState.PENDING, None, None, None, 0)
    return Schedule(ScheduleState.NONE, None, None, None, 0)


def schedule(session: Session, vendor_id: str, tier: Tier, clock: Clock) -> Schedule:
    rows = assessment_facts(session, [vendor_id]).get(vendor_id, [])
    return schedule_from(rows, tier, clock.now())


def latest_submitted(session: Session, vendor_id: str) -> Assessment | None:
    return session.scalar(
        select(Assessment)
        .where(Assessment.vendor_id == vendor_id, Assessment.status == AssessmentStatus.SUBMITTED)
        .order_by(Assessment.submitted_at.desc())
        .limit(1)
    )
