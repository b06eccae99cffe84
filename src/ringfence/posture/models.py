"""Posture tables: findings with their lifecycle and history, and the SaaS observations the
connectors pulled (people, apps, grants as JSON facts — identifiers and scopes, no secrets)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ringfence.core.clock import utcnow
from ringfence.core.ids import new_id
from ringfence.store.models import Base
from ringfence.store.types import JSONType, UTCDateTime

FINDING_STATES = ("open", "risk_accepted", "resolved")


class PostureFinding(Base):
    """One (check, resource) pair that failed at least once; its status evolves over runs."""

    __tablename__ = "posture_findings"
    __table_args__ = (
        UniqueConstraint("check_id", "resource_type", "resource_id", name="check_resource"),
        Index("ix_posture_findings_status", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    check_id: Mapped[str] = mapped_column(String(40))
    resource_type: Mapped[str] = mapped_column(String(40))
    resource_id: Mapped[str] = mapped_column(String(400))
    severity: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="open")
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_by: Mapped[str | None] = mapped_column(String(200))
    approver: Mapped[str | None] = mapped_column(String(200))
    justification: Mapped[str | None] = mapped_column(Text)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)


class PostureFindingEvent(Base):
    """History: every status change of a finding, who made it and why."""

    __tablename__ = "posture_finding_events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    finding_id: Mapped[str] = mapped_column(
        ForeignKey("posture_findings.id", ondelete="CASCADE"), index=True
    )
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200), default="posture")
    note: Mapped[str] = mapped_column(Text, default="")


class SaasObservation(Base):
    """A person, app or grant a connector saw in a SaaS tenant (latest pull wins)."""

    __tablename__ = "saas_observations"
    __table_args__ = (UniqueConstraint("vendor", "kind", "external_id", name="vendor_kind_ext"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    vendor: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(10))  # person | app | grant
    external_id: Mapped[str] = mapped_column(String(400))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
