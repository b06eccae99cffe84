"""foundation: index the audit log by entity

Revision ID: 0015_audit_entity_index
Revises: 0012_audit_action_index
"""

from __future__ import annotations

from alembic import op

revision = "0015_audit_entity_index"
down_revision = "0012_audit_action_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_log_entity_seq", "audit_log", ["entity_id", "seq"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_entity_seq", table_name="audit_log")
