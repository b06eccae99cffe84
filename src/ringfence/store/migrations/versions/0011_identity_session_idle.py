"""identity: when a console session was last used (idle timeout)

Revision ID: 0011_identity_session_idle
Revises: 0009_identity_login_throttle
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ringfence.store.types import UTCDateTime

revision = "0011_identity_session_idle"
down_revision = "0009_identity_login_throttle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("identity_sessions") as batch:
        batch.add_column(sa.Column("last_seen_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identity_sessions") as batch:
        batch.drop_column("last_seen_at")
