"""gateway: private_key_jwt client assertion ids, single-use across processes

Revision ID: 0017_gateway_assertion_jtis
Revises: 0008_gateway_usage
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ringfence.store.types import UTCDateTime

revision = "0017_gateway_assertion_jtis"
down_revision = "0008_gateway_usage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gateway_assertion_jtis",
        sa.Column("key", sa.String(length=320), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_gateway_assertion_jtis")),
    )
    op.create_index(
        op.f("ix_gateway_assertion_jtis_expires_at"),
        "gateway_assertion_jtis",
        ["expires_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_gateway_assertion_jtis_expires_at"), table_name="gateway_assertion_jtis")
    op.drop_table("gateway_assertion_jtis")
