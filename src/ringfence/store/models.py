"""The inventory's domain model: who owns which door, through which identity, carrying what.

Tables here hold references to secrets (``vault:NAME`` / ``env:NAME``), never the secrets:
the only ciphertext lives in ``vault_secrets`` and the only token material is a hash.
Later capabilities add their own tables through their own Alembic branch.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ringfence.core.clock import utcnow
from ringfence.core.ids import new_id
from ringfence.store.types import JSONType, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        values_callable=lambda e: [m.value for m in e],
        length=32,
    )


class IntegrationStatus(enum.StrEnum):
    ACTIVE = "active"
    QUARANTINED = "quarantined"
    REVOKED = "revoked"


class IntegrationKind(enum.StrEnum):
    APP_TO_APP = "app_to_app"
    SERVICE_ACCOUNT = "service_account"


class CredentialKind(enum.StrEnum):
    API_KEY = "api_key"
    OAUTH_CLIENT_SECRET = "oauth_client_secret"
    OAUTH_REFRESH_TOKEN = "oauth_refresh_token"
    CERTIFICATE = "certificate"
    PASSWORD = "password"


class FlowOrigin(enum.StrEnum):
    DECLARED = "declared"
    OBSERVED = "observed"


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Person(Timestamped, Base):
    __tablename__ = "people"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    department: Mapped[str | None] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Vendor(Timestamped, Base):
    __tablename__ = "vendors"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    website: Mapped[str | None] = mapped_column(String(500))
    domains: Mapped[list[str]] = mapped_column(JSONType, default=list)
    description: Mapped[str] = mapped_column(Text, default="")

    apps: Mapped[list[App]] = relationship(back_populates="vendor")


class App(Timestamped, Base):
    """A SaaS application the organisation uses (or that was found in use)."""

    __tablename__ = "apps"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    vendor_id: Mapped[str] = mapped_column(ForeignKey("vendors.id", ondelete="RESTRICT"))
    category: Mapped[str] = mapped_column(String(80), default="other")
    base_urls: Mapped[list[str]] = mapped_column(JSONType, default=list)
    sanctioned: Mapped[bool] = mapped_column(Boolean, default=True)
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    # DataClass value: the most sensitive class this app is cleared to receive.
    clearance: Mapped[int] = mapped_column(Integer, default=1)
    data_classes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    retention_days: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)

    vendor: Mapped[Vendor] = relationship(back_populates="apps")
    owner: Mapped[Person | None] = relationship()


class Integration(Timestamped, Base):
    """A door: source app → destination app, or a service account calling one app."""

    __tablename__ = "integrations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[IntegrationKind] = mapped_column(
        _enum(IntegrationKind, "integration_kind"), default=IntegrationKind.APP_TO_APP
    )
    source_app_id: Mapped[str | None] = mapped_column(ForeignKey("apps.id", ondelete="RESTRICT"))
    destination_app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="RESTRICT"))
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    client_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[IntegrationStatus] = mapped_column(
        _enum(IntegrationStatus, "integration_status"), default=IntegrationStatus.ACTIVE
    )
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    data_classes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    description: Mapped[str] = mapped_column(Text, default="")

    source_app: Mapped[App | None] = relationship(foreign_keys=[source_app_id])
    destination_app: Mapped[App] = relationship(foreign_keys=[destination_app_id])
    owner: Mapped[Person | None] = relationship()
    credentials: Mapped[list[Credential]] = relationship(back_populates="integration")


class Credential(Timestamped, Base):
    """A credential an integration uses; ``ref`` points into the vault or the environment."""

    __tablename__ = "credentials"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[CredentialKind] = mapped_column(_enum(CredentialKind, "credential_kind"))
    integration_id: Mapped[str | None] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE")
    )
    ref: Mapped[str] = mapped_column(String(300))
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rotation_days: Mapped[int | None] = mapped_column(Integer)

    integration: Mapped[Integration | None] = relationship(back_populates="credentials")


class DataFlow(Timestamped, Base):
    """Which data classes move from where to where; declared in the estate or observed."""

    __tablename__ = "data_flows"
    __table_args__ = (UniqueConstraint("name", "origin", name="name_origin"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    source_app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="RESTRICT"))
    destination_app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="RESTRICT"))
    integration_id: Mapped[str | None] = mapped_column(
        ForeignKey("integrations.id", ondelete="SET NULL")
    )
    data_classes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    origin: Mapped[FlowOrigin] = mapped_column(
        _enum(FlowOrigin, "flow_origin"), default=FlowOrigin.DECLARED
    )
    first_seen: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime())

    source_app: Mapped[App] = relationship(foreign_keys=[source_app_id])
    destination_app: Mapped[App] = relationship(foreign_keys=[destination_app_id])
    integration: Mapped[Integration | None] = relationship()


class VaultSecret(Base):
    """One secret, AES-256-GCM encrypted under its own data key, which the master key wraps."""

    __tablename__ = "vault_secrets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    master_key_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    rewrapped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditRecord(Base):
    """Control-plane audit log: one row per change, chained by HMAC-SHA256 under a key derived
    from the master key (``key_id``: that master key's id; NULL: a SHA-256 link written before
    keyed links, migration 0020)."""

    __tablename__ = "audit_log"
    # Readers look records up by action over a time window: pushes behind an alert (four
    # eyes), reminders already delivered today, backup verifications (RF-IRR-003); and an
    # entity's history newest first: an integration's latest status change (identity
    # lifecycle, respond), a review campaign's records.
    __table_args__ = (
        Index("ix_audit_log_action_ts", "action", "ts"),
        Index("ix_audit_log_entity_seq", "entity_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[str] = mapped_column(String(36), unique=True, default=new_id)
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(80))
    entity_type: Mapped[str] = mapped_column(String(80))
    entity_id: Mapped[str | None] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # Unique prev_hash makes a fork impossible: two writers racing for the same head
    # cannot both commit, so the chain stays linear.
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[str | None] = mapped_column(String(16))


class ApiToken(Base):
    """Control-plane API token: only a hash of the secret part is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    hash: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Who the token's requests stand for in four-eyes checks: ``user:NAME`` (a person),
    # ``cli`` (made by the CLI with no person named) or None (made before migration 0019 and
    # not named by its audit record). Only ``user:`` is a person; the others fail closed.
    created_by: Mapped[str | None] = mapped_column(String(200))
