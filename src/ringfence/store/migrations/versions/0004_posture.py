"""posture: findings with lifecycle + history, SaaS observations from the connectors.

Revision ID: 0004_posture
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ringfence.store.types import JSONType, UTCDateTime

revision = "0004_posture"
down_revision = "0001_foundation"
branch_labels = ("posture",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "posture_findings",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("check_id", sa.String(40), nullable=False),
        sa.Column("resource_type", sa.String(40), nullable=False),
        sa.Column("resource_id", sa.String(400), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("evidence", JSONType, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("accepted_until", UTCDateTime(), nullable=True),
        sa.Column("accepted_by", sa.String(200), nullable=True),
        sa.Column("approver", sa.String(200), nullable=True),
        sa.Column("justification", sa.Text(), nullable=True),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posture_findings")),
        sa.UniqueConstraint("check_id", "resource_type", "resource_id", name="check_resource"),
    )
    op.create_index("ix_posture_findings_status", "posture_findings", ["status"])
    op.create_table(
        "posture_finding_events",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("finding_id", sa.String(36), nullable=False),
        sa.Column("ts", UTCDateTime(), nullable=False),
        sa.Column("from_status", sa.String(20), nullable=True),
        sa.Column("to_status", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["posture_findings.id"],
            ondelete="CASCADE",
            name=op.f("fk_posture_finding_events_finding_id_posture_findings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posture_finding_events")),
    )
    op.create_index(
        "ix_posture_finding_events_finding_id", "posture_finding_events", ["finding_id"]
    )
    op.create_table(
        "saas_observations",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("vendor", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("external_id", sa.String(400), nullable=False),
        sa.Column("data", JSONType, nullable=False),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saas_observations")),
        sa.UniqueConstraint("vendor", "kind", "external_id", name="vendor_kind_ext"),
    )


def downgrade() -> None:
    op.drop_table("saas_observations")
    op.drop_index("ix_posture_finding_events_finding_id", "posture_finding_events")
    op.drop_table("posture_finding_events")
    op.drop_index("ix_posture_findings_status", "posture_findings")
    op.drop_table("posture_findings")
