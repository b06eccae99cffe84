"""gateway: observed usage per integration, scope and route (least-privilege evidence)

Revision ID: 0008_gateway_usage
Revises: 0002_gateway
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ringfence.store.types import UTCDateTime

revision = "0008_gateway_usage"
down_revision = "0002_gateway"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gateway_usage",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("integration", sa.String(length=200), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("route", sa.String(length=400), nullable=False),
        sa.Column("count", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_usage")),
        sa.UniqueConstraint("integration", "scope", "route", name="uq_gateway_usage_usage_key"),
    )
    op.create_index(
        op.f("ix_gateway_usage_integration"), "gateway_usage", ["integration"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_gateway_usage_integration"), table_name="gateway_usage")
    op.drop_table("gateway_usage")
