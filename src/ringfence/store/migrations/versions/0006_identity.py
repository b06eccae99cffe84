"""identity: SCIM documents, console users, sessions, tokens, findings, access reviews

Revision ID: 0006_identity
Revises: 0001_foundation
Create Date: 2026-11-26 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ringfence.store.types import JSONType, UTCDateTime

revision = "0006_identity"
down_revision = "0001_foundation"
branch_labels = ("identity",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_oidc_states",
        sa.Column("state_hash", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_identity_oidc_states")),
    )
    op.create_table(
        "identity_review_campaigns",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("scope_kind", sa.String(length=20), nullable=False),
        sa.Column("scope_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("last_reminded_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_review_campaigns")),
        sa.UniqueConstraint("name", name=op.f("uq_identity_review_campaigns_name")),
    )
    op.create_table(
        "identity_scim_groups",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("display_name_key", sa.String(length=320), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("document", JSONType, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_scim_groups")),
        sa.UniqueConstraint(
            "display_name_key", name=op.f("uq_identity_scim_groups_display_name_key")
        ),
    )
    op.create_table(
        "identity_scim_tokens",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("hash", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_scim_tokens")),
        sa.UniqueConstraint("prefix", name=op.f("uq_identity_scim_tokens_prefix")),
    )
    op.create_table(
        "identity_scim_group_members",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("group_id", sa.String(length=36), nullable=False),
        sa.Column("member_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["identity_scim_groups.id"],
            name=op.f("fk_identity_scim_group_members_group_id_identity_scim_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_scim_group_members")),
        sa.UniqueConstraint("group_id", "member_id", name="group_member"),
    )
    with op.batch_alter_table("identity_scim_group_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_scim_group_members_group_id"), ["group_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_identity_scim_group_members_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "identity_users",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("username", sa.String(length=320), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("roles", JSONType, nullable=False),
        sa.Column("sso_subject", sa.String(length=400), nullable=True),
        sa.Column("totp_ref", sa.String(length=200), nullable=True),
        sa.Column("totp_confirmed", sa.Boolean(), nullable=False),
        sa.Column("totp_last_step", sa.Integer(), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("disabled_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_identity_users_person_id_people"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_users")),
        sa.UniqueConstraint("sso_subject", name=op.f("uq_identity_users_sso_subject")),
        sa.UniqueConstraint("username", name=op.f("uq_identity_users_username")),
    )
    op.create_table(
        "identity_personal_tokens",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("hash", sa.String(length=128), nullable=False),
        sa.Column("scopes", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity_users.id"],
            name=op.f("fk_identity_personal_tokens_user_id_identity_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_personal_tokens")),
        sa.UniqueConstraint("prefix", name=op.f("uq_identity_personal_tokens_prefix")),
    )
    with op.batch_alter_table("identity_personal_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_personal_tokens_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "identity_recovery_codes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("hash", sa.String(length=128), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity_users.id"],
            name=op.f("fk_identity_recovery_codes_user_id_identity_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_recovery_codes")),
    )
    with op.batch_alter_table("identity_recovery_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_recovery_codes_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "identity_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("mfa_passed", sa.Boolean(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity_users.id"],
            name=op.f("fk_identity_sessions_user_id_identity_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_identity_sessions_token_hash")),
    )
    with op.batch_alter_table("identity_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identity_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "identity_findings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=True),
        sa.Column("integration_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_identity_findings_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_findings")),
    )
    with op.batch_alter_table("identity_findings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_findings_integration_id"), ["integration_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_identity_findings_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "identity_review_items",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("campaign_id", sa.String(length=36), nullable=False),
        sa.Column("integration_id", sa.String(length=36), nullable=False),
        sa.Column("reviewer_id", sa.String(length=36), nullable=True),
        sa.Column("granted_scopes", JSONType, nullable=False),
        sa.Column("used_scopes", JSONType, nullable=False),
        sa.Column("used_source", sa.String(length=40), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=True),
        sa.Column("kept_scopes", JSONType, nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["identity_review_campaigns.id"],
            name=op.f("fk_identity_review_items_campaign_id_identity_review_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_identity_review_items_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_review_items")),
        sa.UniqueConstraint("campaign_id", "integration_id", name="campaign_item"),
    )
    with op.batch_alter_table("identity_review_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_review_items_campaign_id"), ["campaign_id"], unique=False
        )

    op.create_table(
        "identity_scim_users",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_name_key", sa.String(length=320), nullable=False),
        sa.Column("document", JSONType, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("service_account", sa.Boolean(), nullable=False),
        sa.Column("integration_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["id"], ["people.id"], name=op.f("fk_identity_scim_users_id_people"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_identity_scim_users_integration_id_integrations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_scim_users")),
        sa.UniqueConstraint("user_name_key", name=op.f("uq_identity_scim_users_user_name_key")),
    )


def downgrade() -> None:
    op.drop_table("identity_scim_users")
    with op.batch_alter_table("identity_review_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_review_items_campaign_id"))

    op.drop_table("identity_review_items")
    with op.batch_alter_table("identity_findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_findings_person_id"))
        batch_op.drop_index(batch_op.f("ix_identity_findings_integration_id"))

    op.drop_table("identity_findings")
    with op.batch_alter_table("identity_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_sessions_user_id"))

    op.drop_table("identity_sessions")
    with op.batch_alter_table("identity_recovery_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_recovery_codes_user_id"))

    op.drop_table("identity_recovery_codes")
    with op.batch_alter_table("identity_personal_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_personal_tokens_user_id"))

    op.drop_table("identity_personal_tokens")
    op.drop_table("identity_users")
    with op.batch_alter_table("identity_scim_group_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_scim_group_members_member_id"))
        batch_op.drop_index(batch_op.f("ix_identity_scim_group_members_group_id"))

    op.drop_table("identity_scim_group_members")
    op.drop_table("identity_scim_tokens")
    op.drop_table("identity_scim_groups")
    op.drop_table("identity_review_campaigns")
    op.drop_table("identity_oidc_states")
