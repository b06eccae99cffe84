"""Gateway tables: routes, OAuth clients, API keys, signing keys, revoked token ids.

Rows hold hashes, public keys and vault references only: a client secret or API key is kept
as a SHA-256 digest of a 256-bit random value, a signing key's private half lives in the vault
(``private_ref``). Nothing here may ever hold a plaintext secret.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ringfence.core.clock import utcnow
from ringfence.core.ids import new_id
from ringfence.store.models import Base
from ringfence.store.types import JSONType, UTCDateTime


class GatewayRoute(Base):
    """One ``routes:`` entry of the estate file; ``spec`` is the validated RouteSpec as JSON."""

    __tablename__ = "gateway_routes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class GatewayClient(Base):
    """A machine identity allowed to obtain gateway tokens, bound to one integration."""

    __tablename__ = "gateway_clients"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    client_id: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    # client_secret_basic | client_secret_post | private_key_jwt | tls_client_auth
    auth_method: Mapped[str] = mapped_column(String(40))
    secret_hash: Mapped[str | None] = mapped_column(String(128))
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    cert_thumbprint: Mapped[str | None] = mapped_column(String(128))
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    claims: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class GatewayApiKey(Base):
    """An API key of a client: ``rfk_<prefix>_<secret>``; only a SHA-256 of the key is kept."""

    __tablename__ = "gateway_api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    client_pk: Mapped[str] = mapped_column(ForeignKey("gateway_clients.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200), default="")
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    hash: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set explicitly by every policy-relevant change (not by last-used tracking), so the
    # policy watcher does not reload on every request.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    replaced_by: Mapped[str | None] = mapped_column(String(36))


class GatewaySigningKey(Base):
    """A token signing key: public JWK here, private PEM in the vault under ``private_ref``."""

    __tablename__ = "gateway_signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONType)
    private_ref: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # No longer used to sign (a newer key is active) but still published until retired_at.
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text, default="")


class GatewayRevokedToken(Base):
    """A revoked access token id, kept until the token would have expired anyway."""

    __tablename__ = "gateway_revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class GatewayUsage(Base):
    """What each integration actually used through the gateway: the least-privilege evidence.

    One row per (integration, scope, route); ``scope`` is a scope an allowed request exercised
    (the matched operation required it), ``route`` is ``"<route> <METHOD> <template>"``. Posture
    and access reviews read it (the ``gateway_usage`` contract); counts are approximate under a
    crash (up to one flush interval is lost), never inflated.
    """

    __tablename__ = "gateway_usage"
    __table_args__ = (UniqueConstraint("integration", "scope", "route", name="usage_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    integration: Mapped[str] = mapped_column(String(200), index=True)
    scope: Mapped[str] = mapped_column(String(200), default="")
    route: Mapped[str] = mapped_column(String(400), default="")
    count: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())


class GatewayAssertionJti(Base):
    """A private_key_jwt client assertion's ``client_id:jti``, claimed on first use (RFC 7523
    §3): the primary key makes the claim atomic across every gateway process sharing the store.
    Rows are pruned once expired. Not part of the policy fingerprint."""

    __tablename__ = "gateway_assertion_jtis"

    key: Mapped[str] = mapped_column(String(320), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
