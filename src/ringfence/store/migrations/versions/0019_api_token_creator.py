"""foundation: record who created each control-plane API token (four eyes)

A request made with a control-plane token (opening an incident, requesting a revoke) was
"nobody" to the four-eyes check, so one person could request with a token and approve with
their own console account. ``api_tokens.created_by`` names the token's human: ``user:NAME``
(``ringfence token create --by NAME``), ``cli`` (made by the CLI with no person named), or
NULL (unknown). Tokens made before this revision take the actor of their ``api_token.create``
audit record where there is one (the CLI wrote ``cli``); the others stay NULL. Both ``cli``
and NULL are "no person": respond refuses to count such a token as one of the two eyes
(docs/respond.md, "Who may approve") until ``ringfence token attribute`` names its person.

Revision ID: 0019_api_token_creator
Revises: 0018_vault_audit_baseline
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_api_token_creator"
down_revision = "0018_vault_audit_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("created_by", sa.String(200), nullable=True))
    # The oldest api_token.create record of each token names who made it (the chain is
    # tamper-evident; a token without one stays unknown).
    op.execute(
        "UPDATE api_tokens SET created_by = ("
        " SELECT a.actor FROM audit_log a"
        " WHERE a.action = 'api_token.create' AND a.entity_type = 'api_token'"
        " AND a.entity_id = api_tokens.id ORDER BY a.seq LIMIT 1)"
    )


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("created_by")
