"""identity: why a console user is disabled (an administrator, or deprovisioning)

Revision ID: 0013_identity_disabled_reason
Revises: 0011_identity_session_idle
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_identity_disabled_reason"
down_revision = "0011_identity_session_idle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("identity_users") as batch:
        batch.add_column(sa.Column("disabled_reason", sa.String(40), nullable=True))
    # Users disabled before this column existed keep their state on a SCIM reactivation
    # (reason unknown: treated as an administrator's decision, the safe side).
    op.execute("UPDATE identity_users SET disabled_reason = 'admin' WHERE disabled_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("identity_users") as batch:
        batch.drop_column("disabled_reason")
