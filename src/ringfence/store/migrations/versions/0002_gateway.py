"""gateway: routes, OAuth clients, API keys, signing keys, revoked tokens

Revision ID: 0002_gateway
Revises: 0001_foundation
Create Date: 2026-11-26 10:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ringfence.store.types import JSONType, UTCDateTime

revision = "0002_gateway"
down_revision = "0001_foundation"
branch_labels = ("gateway",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gateway_routes",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("spec", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_routes")),
        sa.UniqueConstraint("name", name=op.f("uq_gateway_routes_name")),
    )
    op.create_table(
        "gateway_clients",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("client_id", sa.String(200), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("integration_id", sa.String(36), nullable=False),
        sa.Column("auth_method", sa.String(40), nullable=False),
        sa.Column("secret_hash", sa.String(128), nullable=True),
        sa.Column("jwks", JSONType, nullable=True),
        sa.Column("cert_thumbprint", sa.String(128), nullable=True),
        sa.Column("scopes", JSONType, nullable=False),
        sa.Column("claims", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_gateway_clients_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_clients")),
        sa.UniqueConstraint("client_id", name=op.f("uq_gateway_clients_client_id")),
    )
    op.create_table(
        "gateway_api_keys",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("client_pk", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("hash", sa.String(128), nullable=False),
        sa.Column("scopes", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("replaced_by", sa.String(36), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_pk"],
            ["gateway_clients.id"],
            name=op.f("fk_gateway_api_keys_client_pk_gateway_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_gateway_api_keys_prefix")),
    )
    op.create_table(
        "gateway_signing_keys",
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("alg", sa.String(16), nullable=False),
        sa.Column("public_jwk", JSONType, nullable=False),
        sa.Column("private_ref", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("superseded_at", UTCDateTime(), nullable=True),
        sa.Column("retired_at", UTCDateTime(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_gateway_signing_keys")),
    )
    op.create_table(
        "gateway_revoked_tokens",
        sa.Column("jti", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(200), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_gateway_revoked_tokens")),
    )


def downgrade() -> None:
    op.drop_table("gateway_revoked_tokens")
    op.drop_table("gateway_signing_keys")
    op.drop_table("gateway_api_keys")
    op.drop_table("gateway_clients")
    op.drop_table("gateway_routes")
