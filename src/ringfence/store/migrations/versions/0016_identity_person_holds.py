"""identity: emergency holds — a local deactivation the IdP cannot undo

Revision ID: 0016_identity_person_holds
Revises: 0014_identity_user_provenance
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ringfence.store.types import UTCDateTime

revision = "0016_identity_person_holds"
down_revision = "0014_identity_user_provenance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_person_holds",
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("held_by", sa.String(length=200), nullable=False),
        sa.Column("held_at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_identity_person_holds_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_identity_person_holds")),
    )


def downgrade() -> None:
    op.drop_table("identity_person_holds")
