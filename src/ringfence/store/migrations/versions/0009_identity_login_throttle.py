"""identity: failed sign-ins per unknown username and per client address

Revision ID: 0009_identity_login_throttle
Revises: 0006_identity
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ringfence.store.types import UTCDateTime

revision = "0009_identity_login_throttle"
down_revision = "0006_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_login_throttle",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", UTCDateTime(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_identity_login_throttle")),
    )


def downgrade() -> None:
    op.drop_table("identity_login_throttle")
