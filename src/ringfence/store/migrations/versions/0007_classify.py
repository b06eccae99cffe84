"""classify: custom detectors and allow-lists of the ringfence.yaml ``classify:`` section

Revision ID: 0007_classify
Revises: 0001_foundation
Create Date: 2026-11-26 11:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ringfence.store.types import JSONType, UTCDateTime

revision = "0007_classify"
down_revision = "0001_foundation"
branch_labels = ("classify",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "classify_entries",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("spec", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_classify_entries")),
        sa.UniqueConstraint("name", name=op.f("uq_classify_entries_name")),
    )


def downgrade() -> None:
    op.drop_table("classify_entries")
