"""Incident-response tables: playbooks (from ringfence.yaml), incidents, their steps, timeline
and evidence.

Nothing here holds a secret: steps record what they did to which object (ids, names, counts),
evidence bundles hold inventory facts, credential *references* and event metadata, and every
bundle's SHA-256 is kept beside it (and in the timeline) for chain of custody.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ringfence.core.clock import utcnow
from ringfence.core.ids import new_id
from ringfence.store.models import Base
from ringfence.store.types import JSONType, UTCDateTime


class Playbook(Base):
    """One ``playbooks:`` entry of ringfence.yaml; ``spec`` is the validated entry."""

    __tablename__ = "respond_playbooks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Incident(Base):
    """A run of a playbook against one integration (a drill changes nothing outside)."""

    __tablename__ = "respond_incidents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    playbook: Mapped[str] = mapped_column(String(100))
    # The playbook as it was when the incident started: later edits do not change a run.
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)
    integration_id: Mapped[str | None] = mapped_column(
        ForeignKey("integrations.id", ondelete="SET NULL")
    )
    integration_name: Mapped[str] = mapped_column(String(200))
    # open | awaiting_approval | contained | closed
    status: Mapped[str] = mapped_column(String(30), default="open")
    drill: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text, default="")
    opened_by: Mapped[str] = mapped_column(String(200))
    # Unique: one incident per alert, however often the alert watcher runs.
    trigger_alert_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    contained_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    failed_steps: Mapped[int] = mapped_column(Integer, default=0)
    # Detection drills: seconds from the injected events to the stored alert.
    seconds_to_detect: Mapped[float | None] = mapped_column(Float)


class IncidentStep(Base):
    __tablename__ = "respond_steps"
    __table_args__ = (UniqueConstraint("incident_id", "position", name="incident_step"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    incident_id: Mapped[str] = mapped_column(
        ForeignKey("respond_incidents.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(40))
    # pending | awaiting_approval | done | failed | skipped
    status: Mapped[str] = mapped_column(String(30), default="pending")
    needs_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class TimelineEntry(Base):
    __tablename__ = "respond_timeline"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(
        ForeignKey("respond_incidents.id", ondelete="CASCADE"), index=True
    )
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)


class Evidence(Base):
    __tablename__ = "respond_evidence"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    incident_id: Mapped[str] = mapped_column(
        ForeignKey("respond_incidents.id", ondelete="CASCADE"), index=True
    )
    collected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sha256: Mapped[str] = mapped_column(String(64))
    bundle: Mapped[dict[str, Any]] = mapped_column(JSONType)
