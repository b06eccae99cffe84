"""Monitoring tables: normalised events, dead letters, alerts, their delivery outbox, UEBA state.

On PostgreSQL ``monitor_events`` is partitioned by day on ``ts`` (RANGE); the primary key is
``(id, ts)`` because a partitioned table's unique keys must contain the partition key. Event
ids are derived from the vendor record and so are ``ts``: the same record always lands on the
same key, which is what makes ingestion idempotent. Never stores a secret: raw vendor records
are audit-log records, which do not carry credentials.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, LargeBinary, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ringfence.core.clock import utcnow
from ringfence.core.ids import new_id
from ringfence.store.models import Base
from ringfence.store.types import JSONType, UTCDateTime


class MonitorEvent(Base):
    __tablename__ = "monitor_events"
    __table_args__ = (
        Index("ix_monitor_events_ts", "ts"),
        Index("ix_monitor_events_source_ts", "source", "ts"),
        Index("ix_monitor_events_actor_ts", "actor", "ts"),
        Index("ix_monitor_events_src_ip", "src_ip"),
        {"postgresql_partition_by": "RANGE (ts)"},
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    product: Mapped[str] = mapped_column(String(40))
    service: Mapped[str] = mapped_column(String(80))
    class_uid: Mapped[int] = mapped_column(Integer)
    activity_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str | None] = mapped_column(String(320), nullable=True)
    src_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status_id: Mapped[int] = mapped_column(SmallInteger)
    severity_id: Mapped[int] = mapped_column(SmallInteger)
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # {"ocsf": ..., "raw": ...} as UTF-8 JSON (see storage.encode_body): written by binary COPY
    # without a JSON parse on the server; nothing queries inside it in SQL
    body: Mapped[bytes] = mapped_column(LargeBinary)


class DeadLetter(Base):
    __tablename__ = "monitor_dead_letters"
    __table_args__ = (Index("ix_monitor_dead_letters_source", "source", "received_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(40))
    origin: Mapped[str] = mapped_column(String(200))
    line_no: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)


class Alert(Base):
    """An OCSF Detection Finding (2004), de-duplicated by ``dedup_key`` while open."""

    __tablename__ = "monitor_alerts"
    __table_args__ = (Index("ix_monitor_alerts_dedup", "dedup_key", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    dedup_key: Mapped[str] = mapped_column(String(200))
    rule_id: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(300))
    severity: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="new")
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    count: Mapped[int] = mapped_column(Integer, default=1)
    finding: Mapped[dict[str, Any]] = mapped_column(JSONType)


class OutboxItem(Base):
    """One alert to deliver to one sink; retried with backoff until delivered."""

    __tablename__ = "monitor_outbox"
    __table_args__ = (UniqueConstraint("alert_id", "sink", "revision"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    alert_id: Mapped[str] = mapped_column(String(36))
    sink: Mapped[str] = mapped_column(String(80))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class UebaState(Base):
    """Persisted baseline of one (entity, signal) pair."""

    __tablename__ = "monitor_ueba_state"

    entity: Mapped[str] = mapped_column(String(400), primary_key=True)
    signal: Mapped[str] = mapped_column(String(80), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
