"""Management of gateway machine identities: OAuth clients, API keys, routes, revocations.

Secrets (client secrets, API keys) are generated here from 256 bits of randomness, returned
exactly once as ``SecretStr`` and stored only as a SHA-256 digest (high-entropy values need no
slow hash; comparison is constant-time). Every change is written to the control-plane audit
chain. This module never logs or stores a plaintext secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import SecretStr
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ringfence.core.clock import Clock
from ringfence.core.errors import ConflictError, NotFoundError, ValidationError
from ringfence.gateway.models import (
    GatewayApiKey,
    GatewayAssertionJti,
    GatewayClient,
    GatewayRevokedToken,
    GatewayRoute,
)
from ringfence.gateway.routes import RouteSpec, stored_spec
from ringfence.store import audit
from ringfence.store.db import Store
from ringfence.store.models import Integration

API_KEY_PREFIX = "rf_gw_"
CLIENT_SECRET_PREFIX = "rf_cs_"
AUTH_METHODS = (
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
    "tls_client_auth",
)


def hash_secret(value: str) -> str:
    return hashlib.sha256(b"ringfence-gateway-secret:" + value.encode()).hexdigest()


def secret_matches(value: str, digest: str | None) -> bool:
    return digest is not None and hmac.compare_digest(hash_secret(value), digest)


def split_api_key(key: str) -> str | None:
    """The lookup prefix of ``rf_gw_<prefix>_<secret>``, or None if malformed."""
    if not key.startswith(API_KEY_PREFIX) or len(key) > 200:
        return None
    prefix, sep, rest = key[len(API_KEY_PREFIX) :].partition("_")
    if not sep or len(prefix) != 12 or len(rest) < 32:
        return None
    return prefix


@dataclass(frozen=True)
class CreatedClient:
    id: str
    client_id: str
    auth_method: str
    client_secret: SecretStr | None


@dataclass(frozen=True)
class CreatedKey:
    id: str
    prefix: str
    api_key: SecretStr
    expires_at: datetime | None


def _check_scopes(scopes: list[str]) -> list[str]:
    for s in scopes:
        if not s or " " in s or len(s) > 200 or not s.isprintable():
            raise ValidationError(f"invalid scope {s!r}")
    return sorted(set(scopes))


def create_client(
    store: Store,
    clock: Clock,
    *,
    integration: str,
    name: str,
    scopes: list[str],
    auth_method: str = "client_secret_basic",
    jwks: dict[str, Any] | None = None,
    cert_thumbprint: str | None = None,
    claims: dict[str, Any] | None = None,
    actor: str = "cli",
) -> CreatedClient:
    """Register a client for an integration; a generated secret is returned once."""
    if auth_method not in AUTH_METHODS:
        raise ValidationError(f"auth method must be one of {', '.join(AUTH_METHODS)}")
    scopes = _check_scopes(scopes)
    secret: str | None = None
    if auth_method.startswith("client_secret"):
        secret = CLIENT_SECRET_PREFIX + secrets.token_urlsafe(32)
    elif auth_method == "private_key_jwt":
        _check_public_jwks(jwks)
    elif not cert_thumbprint:
        raise ValidationError("tls_client_auth needs the certificate's SHA-256 thumbprint")
    client_id = f"rfc_{secrets.token_hex(8)}"
    now = clock.now()
    with store.session() as s:
        integ = s.scalar(select(Integration).where(Integration.name == integration))
        if integ is None:
            raise NotFoundError(f"integration {integration!r} does not exist")
        row = GatewayClient(
            client_id=client_id,
            name=name,
            integration_id=integ.id,
            auth_method=auth_method,
            secret_hash=hash_secret(secret) if secret else None,
            jwks=jwks,
            cert_thumbprint=cert_thumbprint,
            scopes=scopes,
            claims=claims or {},
            created_at=now,
            updated_at=now,
        )
        s.add(row)
        s.flush()
        audit.append(
            s,
            actor=actor,
            action="gateway.client.create",
            entity_type="gateway_client",
            entity_id=client_id,
            after={
                "name": name,
                "integration": integration,
                "scopes": scopes,
                "auth_method": auth_method,
            },
        )
        return CreatedClient(row.id, client_id, auth_method, SecretStr(secret) if secret else None)


# JWK members that only a private (or symmetric) key has: none may be stored (RFC 7517/7518).
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_KEY_TYPES = frozenset({"EC", "OKP", "RSA"})
_JWK_ALGS = frozenset({"ES256", "EdDSA", "RS256", "PS256"})  # oauth.ASSERTION_ALGS
MIN_RSA_BITS = 2048


def _check_public_jwks(jwks: dict[str, Any] | None) -> None:
    """A private_key_jwt client's JWKS: public asymmetric keys only, each checked itself.

    Every member of ``keys`` is looked at as written: the earlier check matched parsed keys
    back to their JSON by ``kid``, so a private key without a ``kid`` (or sharing one) after a
    public one was stored — a plaintext private key at rest."""
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys:
        raise ValidationError("private_key_jwt needs a JWKS with at least one public key")
    for raw in keys:
        if not isinstance(raw, dict) or raw.get("kty") not in _KEY_TYPES:
            raise ValidationError("JWKS must hold public asymmetric keys only (EC, OKP, RSA)")
        if _PRIVATE_MEMBERS & raw.keys():
            raise ValidationError("JWKS must hold public keys only: a private key was given")
        if raw.get("alg") not in (None, *_JWK_ALGS):
            raise ValidationError(
                f"JWKS key algorithm must be one of {', '.join(sorted(_JWK_ALGS))}"
            )
        try:
            key = jwt.PyJWK(raw).key
        except (jwt.PyJWTError, TypeError, ValueError) as exc:
            raise ValidationError(f"invalid JWKS key: {exc}") from None
        if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
            raise ValidationError(f"RSA keys must have at least {MIN_RSA_BITS} bits")
        if isinstance(key, ec.EllipticCurvePublicKey) and not isinstance(key.curve, ec.SECP256R1):
            raise ValidationError("EC keys must be on P-256 (ES256)")


def list_clients(store: Store) -> list[dict[str, Any]]:
    with store.session() as s:
        rows = s.execute(
            select(GatewayClient, Integration.name)
            .join(Integration, Integration.id == GatewayClient.integration_id)
            .order_by(GatewayClient.created_at)
        ).all()
        return [
            {
                "client_id": c.client_id,
                "name": c.name,
                "integration": iname,
                "auth_method": c.auth_method,
                "scopes": " ".join(c.scopes),
                "revoked": c.revoked_at is not None,
            }
            for c, iname in rows
        ]


def _client(s: Any, client_id: str) -> GatewayClient:
    row = s.scalar(select(GatewayClient).where(GatewayClient.client_id == client_id))
    if row is None:
        raise NotFoundError(f"gateway client {client_id!r} does not exist")
    assert isinstance(row, GatewayClient)
    return row


def revoke_client(store: Store, clock: Clock, client_id: str, *, actor: str = "cli") -> None:
    now = clock.now()
    with store.session() as s:
        row = _client(s, client_id)
        if row.revoked_at is not None:
            raise ConflictError(f"gateway client {client_id!r} is already revoked")
        row.revoked_at = now
        row.updated_at = now
        for key in s.scalars(select(GatewayApiKey).where(GatewayApiKey.client_pk == row.id)):
            if key.revoked_at is None:
                key.revoked_at = now
                key.updated_at = now
        audit.append(
            s,
            actor=actor,
            action="gateway.client.revoke",
            entity_type="gateway_client",
            entity_id=client_id,
        )


def create_api_key(
    store: Store,
    clock: Clock,
    *,
    client_id: str,
    scopes: list[str] | None = None,
    ttl_days: int | None = 90,
    name: str = "",
    actor: str = "cli",
) -> CreatedKey:
    """Issue an API key for a client (scopes default to, and must be within, the client's)."""
    if ttl_days is not None and not 1 <= ttl_days <= 3650:
        raise ValidationError("API key lifetime must be between 1 and 3650 days")
    now = clock.now()
    with store.session() as s:
        client = _client(s, client_id)
        if client.revoked_at is not None:
            raise ConflictError(f"gateway client {client_id!r} is revoked")
        granted = _check_scopes(scopes) if scopes is not None else list(client.scopes)
        extra = set(granted) - set(client.scopes)
        if extra:
            raise ValidationError(f"scopes {sorted(extra)} are not granted to the client")
        return _new_key(s, client, granted, now, ttl_days, name, actor)


def _new_key(
    s: Any,
    client: GatewayClient,
    scopes: list[str],
    now: datetime,
    ttl_days: int | None,
    name: str,
    actor: str,
) -> CreatedKey:
    prefix = secrets.token_hex(6)
    key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    expires = now + timedelta(days=ttl_days) if ttl_days else None
    row = GatewayApiKey(
        client_pk=client.id,
        name=name,
        prefix=prefix,
        hash=hash_secret(key),
        scopes=scopes,
        created_at=now,
        updated_at=now,
        expires_at=expires,
    )
    s.add(row)
    s.flush()
    audit.append(
        s,
        actor=actor,
        action="gateway.key.create",
        entity_type="gateway_api_key",
        entity_id=prefix,
        after={"client_id": client.client_id, "scopes": scopes},
    )
    return CreatedKey(row.id, prefix, SecretStr(key), expires)


def _key(s: Any, prefix: str) -> GatewayApiKey:
    row = s.scalar(select(GatewayApiKey).where(GatewayApiKey.prefix == prefix))
    if row is None:
        raise NotFoundError(f"API key {prefix!r} does not exist")
    assert isinstance(row, GatewayApiKey)
    return row


def rotate_api_key(
    store: Store,
    clock: Clock,
    prefix: str,
    *,
    overlap_hours: float = 24,
    ttl_days: int | None = 90,
    actor: str = "cli",
) -> CreatedKey:
    """A new key with the same scopes; the old one keeps working for ``overlap_hours``."""
    if not 0 <= overlap_hours <= 24 * 30:
        raise ValidationError("overlap must be between 0 and 720 hours")
    now = clock.now()
    with store.session() as s:
        old = _key(s, prefix)
        if old.revoked_at is not None:
            raise ConflictError(f"API key {prefix!r} is revoked")
        client = s.get(GatewayClient, old.client_pk)
        assert client is not None
        new = _new_key(s, client, list(old.scopes), now, ttl_days, old.name, actor)
        cutoff = now + timedelta(hours=overlap_hours)
        if old.expires_at is None or old.expires_at > cutoff:
            old.expires_at = cutoff
        old.replaced_by = new.id
        old.updated_at = now
        return new


def revoke_api_key(store: Store, clock: Clock, prefix: str, *, actor: str = "cli") -> None:
    now = clock.now()
    with store.session() as s:
        row = _key(s, prefix)
        if row.revoked_at is not None:
            raise ConflictError(f"API key {prefix!r} is already revoked")
        row.revoked_at = now
        row.updated_at = now
        audit.append(
            s,
            actor=actor,
            action="gateway.key.revoke",
            entity_type="gateway_api_key",
            entity_id=prefix,
        )


def list_api_keys(store: Store) -> list[dict[str, Any]]:
    with store.session() as s:
        rows = s.execute(
            select(GatewayApiKey, GatewayClient.client_id)
            .join(GatewayClient, GatewayClient.id == GatewayApiKey.client_pk)
            .order_by(GatewayApiKey.created_at)
        ).all()
        return [
            {
                "prefix": k.prefix,
                "client_id": cid,
                "scopes": " ".join(k.scopes),
                "expires_at": k.expires_at.isoformat() if k.expires_at else "",
                "last_used_at": k.last_used_at.isoformat() if k.last_used_at else "",
                "revoked": k.revoked_at is not None,
            }
            for k, cid in rows
        ]


_TOUCH = (
    update(GatewayApiKey.__table__)  # type: ignore[arg-type]
    .where(GatewayApiKey.__table__.c.id == bindparam("key_id"))
    .values(last_used_at=bindparam("used_at"))
)


def touch_api_keys(store: Store, used: dict[str, datetime]) -> None:
    """Record last use (batched by the gateway; does not bump ``updated_at``).

    One UPDATE run as executemany on the table, no ORM objects: it runs every few seconds in
    every gateway process, in a thread that holds the GIL for its Python work.
    """
    if not used:
        return
    rows = [{"key_id": k, "used_at": t} for k, t in sorted(used.items())]  # one lock order
    with store.engine.begin() as conn:
        conn.execute(_TOUCH, rows)


def revoke_token(store: Store, clock: Clock, *, jti: str, client_id: str, exp: int) -> bool:
    """Record a revoked token id; False if it was already revoked."""
    with store.session() as s:
        if s.get(GatewayRevokedToken, jti) is not None:
            return False
        s.add(
            GatewayRevokedToken(
                jti=jti,
                client_id=client_id,
                expires_at=datetime.fromtimestamp(exp, tz=clock.now().tzinfo),
                revoked_at=clock.now(),
            )
        )
        return True


def save_routes(
    store: Store, specs: list[RouteSpec], *, actor: str = "cli", replace: bool = False
) -> dict[str, list[str]]:
    """Upsert routes (and with ``replace`` delete the ones not listed); returns the changes."""
    names = [r.name for r in specs]
    if len(set(names)) != len(names):
        raise ValidationError("route names must be unique")
    changes: dict[str, list[str]] = {"created": [], "updated": [], "deleted": []}
    with store.session() as s:
        existing = {r.name: r for r in s.scalars(select(GatewayRoute))}
        for spec in specs:
            data = stored_spec(spec)
            row = existing.get(spec.name)
            if row is None:
                s.add(GatewayRoute(name=spec.name, spec=data))
                changes["created"].append(spec.name)
            elif row.spec != data:
                row.spec = data
                changes["updated"].append(spec.name)
        if replace:
            for name, row in existing.items():
                if name not in names:
                    s.delete(row)
                    changes["deleted"].append(name)
        if any(changes.values()):
            audit.append(
                s,
                actor=actor,
                action="gateway.routes.save",
                entity_type="gateway_route",
                entity_id=None,
                after=changes,
            )
    return changes


def claim_assertion_jti(store: Store, key: str, exp: float, now: float) -> bool:
    """Claim a client assertion's ``client_id:jti`` for good: True on its first use anywhere.

    The primary key decides between processes racing on the same assertion (one INSERT wins,
    the other gets an IntegrityError). Expired claims are deleted first: an assertion is
    refused once expired anyway, so its row is no longer needed. Blocking (a database round
    trip): the gateway calls it off the event loop.
    """
    expires = datetime.fromtimestamp(exp, tz=UTC)
    try:
        with store.engine.begin() as conn:
            conn.execute(
                delete(GatewayAssertionJti).where(
                    GatewayAssertionJti.expires_at < datetime.fromtimestamp(now, tz=UTC)
                )
            )
            conn.execute(insert(GatewayAssertionJti).values(key=key, expires_at=expires))
    except IntegrityError:
        return False
    return True
