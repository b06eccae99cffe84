"""respond: playbooks, incidents, steps, timeline, evidence

Revision ID: 0010_respond
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ringfence.store.types import JSONType, UTCDateTime

revision = "0010_respond"
down_revision = "0001_foundation"
branch_labels = ("respond",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "respond_playbooks",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("spec", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_respond_playbooks")),
        sa.UniqueConstraint("name", name=op.f("uq_respond_playbooks_name")),
    )
    op.create_table(
        "respond_incidents",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("playbook", sa.String(100), nullable=False),
        sa.Column("spec", JSONType, nullable=False),
        sa.Column("integration_id", sa.String(36), nullable=True),
        sa.Column("integration_name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("drill", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("opened_by", sa.String(200), nullable=False),
        sa.Column("trigger_alert_id", sa.String(36), nullable=True),
        sa.Column("detected_at", UTCDateTime(), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("contained_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("closed_by", sa.String(200), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("failed_steps", sa.Integer(), nullable=False),
        sa.Column("seconds_to_detect", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_respond_incidents_integration_id_integrations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_respond_incidents")),
        sa.UniqueConstraint("trigger_alert_id", name=op.f("uq_respond_incidents_trigger_alert_id")),
    )
    op.create_table(
        "respond_steps",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("incident_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("needs_approval", sa.Boolean(), nullable=False),
        sa.Column("approved_by", sa.String(200), nullable=True),
        sa.Column("approved_at", UTCDateTime(), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("result", JSONType, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["respond_incidents.id"],
            name=op.f("fk_respond_steps_incident_id_respond_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_respond_steps")),
        sa.UniqueConstraint("incident_id", "position", name="incident_step"),
    )
    op.create_index(op.f("ix_respond_steps_incident_id"), "respond_steps", ["incident_id"])
    op.create_table(
        "respond_timeline",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(36), nullable=False),
        sa.Column("ts", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["respond_incidents.id"],
            name=op.f("fk_respond_timeline_incident_id_respond_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_respond_timeline")),
    )
    op.create_index(op.f("ix_respond_timeline_incident_id"), "respond_timeline", ["incident_id"])
    op.create_table(
        "respond_evidence",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("incident_id", sa.String(36), nullable=False),
        sa.Column("collected_at", UTCDateTime(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("bundle", JSONType, nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["respond_incidents.id"],
            name=op.f("fk_respond_evidence_incident_id_respond_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_respond_evidence")),
    )
    op.create_index(op.f("ix_respond_evidence_incident_id"), "respond_evidence", ["incident_id"])


def downgrade() -> None:
    op.drop_table("respond_evidence")
    op.drop_table("respond_timeline")
    op.drop_table("respond_steps")
    op.drop_table("respond_incidents")
    op.drop_table("respond_playbooks")
