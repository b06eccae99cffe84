"""Gateway access tokens: signing keys (EdDSA / ES256 with ``kid``), RFC 9068 JWTs, verification.

Private signing keys are generated here, stored PEM-encoded in the vault and loaded into the
policy snapshot; only public keys are published (JWKS). Verification is hardened: an explicit
algorithm allow-list bound to each key (so ``alg: none`` and HMAC-with-the-public-key cannot be
chosen by the token), ``typ: at+jwt``, issuer, audience, ``exp``/``nbf``/``iat`` with a small
leeway, required ``jti``, revoked ``jti``s refused. This module never logs or returns a private
key or a token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jwt.algorithms import ECAlgorithm, OKPAlgorithm
from sqlalchemy import select

from ringfence.core.clock import Clock
from ringfence.core.errors import AuthenticationError, ValidationError
from ringfence.gateway.models import GatewaySigningKey
from ringfence.store.db import Store
from ringfence.store.vault import Vault

ALLOWED_ALGS = frozenset({"EdDSA", "ES256"})
MAX_TOKEN_TTL = 900
ACCESS_TOKEN_TYP = "at+jwt"

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(key: PublicKey, alg: str, kid: str) -> dict[str, Any]:
    if isinstance(key, ed25519.Ed25519PublicKey):
        jwk: dict[str, Any] = json.loads(OKPAlgorithm.to_jwk(key))
    else:
        jwk = json.loads(ECAlgorithm.to_jwk(key))
    jwk.update({"kid": kid, "alg": alg, "use": "sig"})
    return jwk


def generate_private_key(alg: str) -> PrivateKey:
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValidationError(f"unsupported signing algorithm {alg!r}; use EdDSA or ES256")


def create_signing_key(
    store: Store,
    vault: Vault,
    clock: Clock,
    *,
    alg: str = "EdDSA",
    overlap_seconds: int = 1800,
    actor: str = "ringfence",
) -> str:
    """Create a new active signing key; the previous one stays published for the overlap.

    Keys superseded more than ``overlap_seconds`` ago (longer than any token lifetime) are
    retired: no longer published, so tokens they signed stop verifying. The private key's
    vault record is audited as ``actor`` (who asked: ``cli``, an operator) and commits with
    the key's row: a failure leaves no sealed key that no row names.
    """
    key = generate_private_key(alg)
    kid = f"{clock.now():%Y%m%d}-{secrets.token_hex(4)}"
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    ref = f"gateway/signing/{kid}"
    now = clock.now()
    with store.session() as s:
        # First: the vault takes the audit chain lock, the one lock order of every writer.
        vault.put(ref, pem, description=f"gateway token signing key {kid}", actor=actor, session=s)
        for row in s.scalars(
            select(GatewaySigningKey).where(GatewaySigningKey.retired_at.is_(None))
        ):
            if row.superseded_at is None:
                row.superseded_at = now
            elif row.superseded_at + timedelta(seconds=overlap_seconds) <= now:
                row.retired_at = now
        s.add(
            GatewaySigningKey(
                kid=kid,
                alg=alg,
                public_jwk=public_jwk(key.public_key(), alg, kid),
                private_ref=ref,
                created_at=now,
                updated_at=now,
                note="",
            )
        )
    return kid


def ensure_signing_key(
    store: Store, vault: Vault, clock: Clock, *, alg: str = "EdDSA", actor: str = "ringfence"
) -> str:
    """The active key's kid, creating the first key (audited as ``actor``) if there is none."""
    with store.session() as s:
        row = s.scalar(
            select(GatewaySigningKey)
            .where(GatewaySigningKey.superseded_at.is_(None))
            .where(GatewaySigningKey.retired_at.is_(None))
            .order_by(GatewaySigningKey.created_at.desc())
        )
        if row is not None:
            return row.kid
    return create_signing_key(store, vault, clock, alg=alg, actor=actor)


@dataclass(frozen=True)
class SigningKeys:
    """Loaded keys: the active signer (private) and every published verification key."""

    active_kid: str | None
    active_alg: str | None
    active_key: PrivateKey | None
    public: dict[str, tuple[str, PublicKey]]
    jwks: bytes
    # kid -> when it stopped signing (epoch seconds): it verifies only tokens issued before
    superseded: dict[str, float] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"SigningKeys(active={self.active_kid}, published={sorted(self.public)})"


def load_signing_keys(rows: list[GatewaySigningKey], vault: Vault) -> SigningKeys:
    public: dict[str, tuple[str, PublicKey]] = {}
    superseded: dict[str, float] = {}
    jwk_list: list[dict[str, Any]] = []
    active: GatewaySigningKey | None = None
    for row in rows:
        if row.retired_at is not None or row.alg not in ALLOWED_ALGS:
            continue
        key = jwt.PyJWK(row.public_jwk).key
        if not isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey):
            continue
        public[row.kid] = (row.alg, key)
        if row.superseded_at is not None:
            superseded[row.kid] = row.superseded_at.timestamp()
        jwk_list.append(row.public_jwk)
        if row.superseded_at is None and (active is None or row.created_at > active.created_at):
            active = row
    private: PrivateKey | None = None
    if active is not None:
        pem = vault.get(active.private_ref).get_secret_value().encode()
        loaded = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(loaded, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
            raise ValidationError(f"signing key {active.kid} has an unsupported type")
        private = loaded
    return SigningKeys(
        active_kid=active.kid if active else None,
        active_alg=active.alg if active else None,
        active_key=private,
        public=public,
        jwks=json.dumps({"keys": jwk_list}).encode(),
        superseded=superseded,
    )


def cert_thumbprint(der: bytes) -> str:
    """RFC 8705 ``x5t#S256``: base64url SHA-256 of the DER certificate."""
    return _b64(hashlib.sha256(der).digest())


def issue_access_token(
    keys: SigningKeys,
    *,
    issuer: str,
    audience: str,
    client_id: str,
    scopes: list[str],
    ttl_seconds: int,
    now: datetime,
    extra_claims: dict[str, Any] | None = None,
    cnf_thumbprint: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """Sign an RFC 9068 access token; returns (token, claims)."""
    if keys.active_key is None or keys.active_kid is None or keys.active_alg is None:
        raise AuthenticationError("no active signing key", code="signing_key_missing")
    ttl = min(max(ttl_seconds, 1), MAX_TOKEN_TTL)
    iat = int(now.timestamp())
    claims: dict[str, Any] = dict(extra_claims or {})
    claims.update(
        {
            "iss": issuer,
            "sub": client_id,
            "aud": audience,
            "client_id": client_id,
            "iat": iat,
            "nbf": iat,
            "exp": iat + ttl,
            "jti": secrets.token_urlsafe(16),
            "scope": " ".join(sorted(set(scopes))),
        }
    )
    if cnf_thumbprint:
        claims["cnf"] = {"x5t#S256": cnf_thumbprint}
    token = jwt.encode(
        claims,
        keys.active_key,
        algorithm=keys.active_alg,
        headers={"kid": keys.active_kid, "typ": ACCESS_TOKEN_TYP},
    )
    return token, claims


@dataclass
class TokenVerifier:
    """Verifies gateway access tokens against the published keys; caches good results."""

    keys: SigningKeys
    issuer: str
    audience: str
    revoked: frozenset[str]
    leeway: int = 30
    cache_size: int = 50_000
    _cache: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)

    def verify(self, token: str, now_ts: float) -> dict[str, Any]:
        claims = self._cache.get(token)
        if claims is None:
            claims = self._verify_signature(token, now_ts)
            self._cache[token] = claims
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        if claims["exp"] + self.leeway < now_ts:
            self._cache.pop(token, None)
            raise AuthenticationError("token expired", code="token_expired")
        if claims["jti"] in self.revoked:
            raise AuthenticationError("token revoked", code="token_revoked")
        return claims

    def _verify_signature(self, token: str, now_ts: float) -> dict[str, Any]:
        if len(token) > 8192:
            raise AuthenticationError("token too long", code="token_invalid")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthenticationError("malformed token", code="token_invalid") from None
        # The header is anyone's to write and is read before the signature is checked: each
        # field is type-checked first (a list ``alg`` or a numeric ``typ`` raised here, and an
        # unauthenticated request was answered 503 instead of 401).
        alg, typ, kid = header.get("alg"), header.get("typ"), header.get("kid")
        if type(alg) is not str or alg not in ALLOWED_ALGS:
            raise AuthenticationError("token algorithm not allowed", code="token_alg")
        if type(typ) is not str or typ.lower() not in (ACCESS_TOKEN_TYP, "application/at+jwt"):
            raise AuthenticationError("not an access token (typ)", code="token_invalid")
        entry = self.keys.public.get(kid) if type(kid) is str else None
        if entry is None:
            raise AuthenticationError("unknown signing key", code="token_kid")
        key_alg, key = entry
        kid = str(kid)
        if alg != key_alg:
            raise AuthenticationError("token algorithm does not match key", code="token_alg")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[key_alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                # Time claims are checked below against the injected clock, not time.time().
                options={
                    "require": ["exp", "iat", "jti", "sub", "iss", "aud"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidAudienceError:
            raise AuthenticationError("token audience mismatch", code="token_audience") from None
        except jwt.InvalidIssuerError:
            raise AuthenticationError("token issuer mismatch", code="token_issuer") from None
        except (jwt.PyJWTError, TypeError, ValueError):
            raise AuthenticationError("invalid token", code="token_invalid") from None
        exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf", claims.get("iat"))
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (exp, iat, nbf)):
            raise AuthenticationError("invalid token time claims", code="token_invalid")
        if not isinstance(claims.get("jti"), str):
            raise AuthenticationError("invalid token claims", code="token_invalid")
        assert isinstance(exp, int) and isinstance(nbf, int) and isinstance(iat, int)
        if exp + self.leeway < now_ts:
            raise AuthenticationError("token expired", code="token_expired")
        if nbf - self.leeway > now_ts or iat - self.leeway > now_ts:
            raise AuthenticationError("token not yet valid", code="token_nbf")
        if exp - iat > MAX_TOKEN_TTL + self.leeway:
            raise AuthenticationError("token lifetime too long", code="token_invalid")
        # A rotated-out key (the answer to a leaked one) keeps verifying the tokens it signed
        # before the rotation, and nothing issued later: without this it verified any token
        # until a second rotation retired it. Together with the lifetime cap above, it stops
        # verifying at all MAX_TOKEN_TTL (+ leeways) after the rotation.
        superseded = self.keys.superseded.get(kid)
        if superseded is not None and iat - self.leeway > superseded:
            raise AuthenticationError("token signed by a superseded key", code="token_kid")
        return claims
