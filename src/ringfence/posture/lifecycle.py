"""Findings lifecycle: open → resolved automatically when the check passes again; risk
acceptance with justification, approver and expiry; full history; scores.

Every status change writes a history event; risk acceptance is also written to the
tamper-evident control-plane audit chain. An acceptance never outlives its expiry: the next
run reopens the finding if it still fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ringfence.core.clock import FixedClock
from ringfence.core.errors import ConflictError, NotFoundError, ValidationError
from ringfence.posture.engine import PostureReport
from ringfence.posture.models import PostureFinding, PostureFindingEvent
from ringfence.store import audit

MAX_ACCEPTANCE = timedelta(days=365)
Key = tuple[str, str, str]


@dataclass
class SyncSummary:
    opened: int = 0
    reopened: int = 0
    resolved: int = 0
    still_open: int = 0
    accepted: set[Key] = field(default_factory=set)  # failing but risk-accepted (not expired)


def _event(
    session: Session,
    finding: PostureFinding,
    to: str,
    now: datetime,
    *,
    actor: str = "posture",
    note: str = "",
) -> None:
    session.add(
        PostureFindingEvent(
            finding_id=finding.id,
            ts=now,
            from_status=finding.status if finding.status != to else None,
            to_status=to,
            actor=actor,
            note=note,
        )
    )
    finding.status = to


def sync_findings(session: Session, report: PostureReport) -> SyncSummary:
    """Reconcile stored findings with ``report`` (one run of the catalogue)."""
    now = report.generated_at
    summary = SyncSummary()
    evaluated = {r.meta.id for r in report.results if r.status in {"pass", "fail"}}
    current = {
        (f.meta.id, f.failure.resource_type, f.failure.resource_id): f for f in report.findings
    }
    rows = {
        (r.check_id, r.resource_type, r.resource_id): r
        for r in session.scalars(select(PostureFinding))
    }
    for key, f in current.items():
        row = rows.get(key)
        if row is None:
            row = PostureFinding(
                check_id=key[0],
                resource_type=key[1],
                resource_id=key[2],
                severity=f.severity.label,
                title=f.meta.title,
                message=f.failure.message,
                evidence=f.failure.evidence,
                status="open",
                first_seen=now,
                last_seen=now,
                occurrences=1,
            )
            session.add(row)
            session.flush()
            session.add(
                PostureFindingEvent(
                    finding_id=row.id,
                    ts=now,
                    from_status=None,
                    to_status="open",
                    note=f.failure.message,
                )
            )
            summary.opened += 1
            continue
        row.last_seen = now
        row.message = f.failure.message
        row.evidence = f.failure.evidence
        row.severity = f.severity.label
        row.occurrences += 1
        if row.status == "resolved":
            row.resolved_at = None
            _event(session, row, "open", now, note="failing again")
            summary.reopened += 1
        elif row.status == "risk_accepted":
            if row.accepted_until is not None and row.accepted_until <= now:
                _event(session, row, "open", now, note="risk acceptance expired")
                summary.reopened += 1
            else:
                summary.accepted.add(key)
        else:
            summary.still_open += 1
    for key, row in rows.items():
        if key in current or key[0] not in evaluated or row.status == "resolved":
            continue
        row.resolved_at = now
        _event(session, row, "resolved", now, note="check passes")
        summary.resolved += 1
    return summary


def accept_risk(
    session: Session,
    finding_id: str,
    *,
    justification: str,
    approver: str,
    accepted_by: str,
    until: datetime,
    now: datetime,
) -> PostureFinding:
    row = session.get(PostureFinding, finding_id)
    if row is None:
        raise NotFoundError(f"no posture finding {finding_id!r}")
    if row.status == "resolved":
        raise ConflictError(f"finding {finding_id} is resolved; nothing to accept")
    if len(justification.strip()) < 10:
        raise ValidationError("justification must explain the decision (at least 10 characters)")
    if not approver.strip():
        raise ValidationError("an approver is required")
    if approver.strip().lower() == accepted_by.strip().lower():
        raise ValidationError("the approver must be someone other than the requester")
    if until <= now:
        raise ValidationError("acceptance expiry must be in the future")
    if until - now > MAX_ACCEPTANCE:
        raise ValidationError("a risk acceptance may last at most 365 days")
    before = {"status": row.status}
    row.accepted_until = until
    row.accepted_by = accepted_by
    row.approver = approver
    row.justification = justification
    _event(
        session,
        row,
        "risk_accepted",
        now,
        actor=accepted_by,
        note=f"approved by {approver} until {until.date().isoformat()}: {justification}",
    )
    audit.append(
        session,
        actor=accepted_by,
        action="posture.risk_accepted",
        entity_type="posture_finding",
        entity_id=row.id,
        before=before,
        after={
            "status": "risk_accepted",
            "until": until.isoformat(),
            "approver": approver,
            "check_id": row.check_id,
            "resource": row.resource_id,
        },
        clock=FixedClock(now),
    )
    return row


def history(session: Session, finding_id: str) -> list[PostureFindingEvent]:
    if session.get(PostureFinding, finding_id) is None:
        raise NotFoundError(f"no posture finding {finding_id!r}")
    return list(
        session.scalars(
            select(PostureFindingEvent)
            .where(PostureFindingEvent.finding_id == finding_id)
            .order_by(PostureFindingEvent.ts, PostureFindingEvent.id)
        )
    )


def list_findings(session: Session, status: str | None = None) -> list[PostureFinding]:
    q = select(PostureFinding).order_by(PostureFinding.check_id, PostureFinding.resource_id)
    if status is not None:
        q = q.where(PostureFinding.status == status)
    return list(session.scalars(q))
