"""foundation: index the audit log by action and time

Revision ID: 0012_audit_action_index
Revises: 0001_foundation
"""

from __future__ import annotations

from alembic import op

revision = "0012_audit_action_index"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_log_action_ts", "audit_log", ["action", "ts"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_action_ts", table_name="audit_log")
