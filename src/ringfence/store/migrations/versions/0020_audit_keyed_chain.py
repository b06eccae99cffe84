"""foundation: the audit chain is keyed (HMAC-SHA256 under a key derived from the master key)

``audit_log.key_id`` names the master key whose derived audit key links a record; NULL is a
record linked by plain SHA-256, as every record written before this revision is. Nothing is
rewritten: those records stay verifiable as unkeyed, and the first record appended after the
upgrade (by a process holding the master key) is the first keyed one, linked to the last
unkeyed record. ``ringfence audit verify`` says where the keyed part starts and refuses an
unkeyed record after it. Downgrading drops the column: keyed records then fail verification
by the older release (it recomputes them as SHA-256), so downgrade only a store that has none.

Revision ID: 0020_audit_keyed_chain
Revises: 0019_api_token_creator
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_audit_keyed_chain"
down_revision = "0019_api_token_creator"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("key_id", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("key_id")
