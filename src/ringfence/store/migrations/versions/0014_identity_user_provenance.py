"""identity: where a console user's username and person email come from

Revision ID: 0014_identity_user_provenance
Revises: 0013_identity_disabled_reason
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ringfence.store.types import JSONType

revision = "0014_identity_user_provenance"
down_revision = "0013_identity_disabled_reason"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("identity_users") as batch:
        batch.add_column(
            sa.Column("username_source", sa.String(20), nullable=False, server_default="local")
        )
        batch.add_column(sa.Column("person_email", sa.String(320), nullable=True))
        batch.add_column(sa.Column("sso_names", JSONType, nullable=True))
        batch.create_index("ix_identity_users_person_email", ["person_email"])
    # Local accounts named by an email keep being linked by it (an administrator chose the
    # name). SSO accounts: whether their username was a verified email was not recorded, so
    # none is linked by email until their next sign-in records it.
    op.execute(
        "UPDATE identity_users SET username_source = 'sso_legacy' WHERE sso_subject IS NOT NULL"
    )
    op.execute(
        "UPDATE identity_users SET person_email = username "
        "WHERE sso_subject IS NULL AND username LIKE '%@%'"
    )


def downgrade() -> None:
    with op.batch_alter_table("identity_users") as batch:
        batch.drop_index("ix_identity_users_person_email")
        batch.drop_column("sso_names")
        batch.drop_column("person_email")
        batch.drop_column("username_source")
