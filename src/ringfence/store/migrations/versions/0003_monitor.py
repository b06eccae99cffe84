"""monitor: events (partitioned by day on PostgreSQL), dead letters, alerts, outbox, UEBA state

Revision ID: 0003_monitor
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ringfence.store.types import JSONType, UTCDateTime

revision = "0003_monitor"
down_revision = "0001_foundation"
branch_labels = ("monitor",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_events",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("ts", UTCDateTime(), nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("product", sa.String(40), nullable=False),
        sa.Column("service", sa.String(80), nullable=False),
        sa.Column("class_uid", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("actor", sa.String(320), nullable=True),
        sa.Column("src_ip", sa.String(64), nullable=True),
        sa.Column("status_id", sa.SmallInteger(), nullable=False),
        sa.Column("severity_id", sa.SmallInteger(), nullable=False),
        sa.Column("ingested_at", UTCDateTime(), nullable=False),
        sa.Column("ocsf", JSONType, nullable=False),
        sa.Column("raw", JSONType, nullable=False),
        sa.PrimaryKeyConstraint("id", "ts", name=op.f("pk_monitor_events")),
        # Partitions (one per UTC day) are created on demand by ringfence.monitor.storage.
        postgresql_partition_by="RANGE (ts)",
    )
    op.create_index("ix_monitor_events_ts", "monitor_events", ["ts"])
    op.create_index("ix_monitor_events_source_ts", "monitor_events", ["source", "ts"])
    op.create_index("ix_monitor_events_actor_ts", "monitor_events", ["actor", "ts"])
    op.create_index("ix_monitor_events_class_ts", "monitor_events", ["class_uid", "ts"])
    op.create_index("ix_monitor_events_src_ip", "monitor_events", ["src_ip"])
    op.create_table(
        "monitor_dead_letters",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("origin", sa.String(200), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_dead_letters")),
    )
    op.create_index(
        "ix_monitor_dead_letters_source", "monitor_dead_letters", ["source", "received_at"]
    )
    op.create_table(
        "monitor_alerts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("dedup_key", sa.String(200), nullable=False),
        sa.Column("rule_id", sa.String(120), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("finding", JSONType, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_alerts")),
    )
    op.create_index("ix_monitor_alerts_dedup", "monitor_alerts", ["dedup_key", "status"])
    op.create_table(
        "monitor_outbox",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("alert_id", sa.String(36), nullable=False),
        sa.Column("sink", sa.String(80), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("payload", JSONType, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_outbox")),
        sa.UniqueConstraint(
            "alert_id", "sink", "revision", name=op.f("uq_monitor_outbox_alert_id")
        ),
    )
    op.create_table(
        "monitor_ueba_state",
        sa.Column("entity", sa.String(400), nullable=False),
        sa.Column("signal", sa.String(80), nullable=False),
        sa.Column("state", JSONType, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("entity", "signal", name=op.f("pk_monitor_ueba_state")),
    )


def downgrade() -> None:
    op.drop_table("monitor_ueba_state")
    op.drop_table("monitor_outbox")
    op.drop_index("ix_monitor_alerts_dedup", table_name="monitor_alerts")
    op.drop_table("monitor_alerts")
    op.drop_index("ix_monitor_dead_letters_source", table_name="monitor_dead_letters")
    op.drop_table("monitor_dead_letters")
    for name in (
        "ix_monitor_events_src_ip",
        "ix_monitor_events_class_ts",
        "ix_monitor_events_actor_ts",
        "ix_monitor_events_source_ts",
        "ix_monitor_events_ts",
    ):
        op.drop_index(name, table_name="monitor_events")
    # Dropping the partitioned parent drops every day partition with it.
    op.drop_table("monitor_events")
