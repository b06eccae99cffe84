"""Bearer tokens for identity providers calling ``/scim/v2``: ``rf_scim_<prefix>_<secret>``.

Only a SHA-256 of the token is stored (256 random bits, so a fast hash is safe); comparison is
constant-time. A token is shown once, when issued, and never logged or returned again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from pydantic import SecretStr
from sqlalchemy import select

from ringfence.core.clock import Clock
from ringfence.core.errors import AuthenticationError, NotFoundError, ValidationError
from ringfence.identity.models import ScimToken
from ringfence.store import audit
from ringfence.store.db import Store

SCIM_TOKEN_PREFIX = "rf_scim_"


def _hash(token: str) -> str:
    return hashlib.sha256(b"ringfence-scim-token:" + token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedScimToken:
    id: str
    name: str
    token: SecretStr


class ScimTokens:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def issue(self, name: str, *, actor: str = "system") -> IssuedScimToken:
        if not name.strip() or len(name) > 200:
            raise ValidationError("a SCIM token needs a name of 1-200 characters")
        prefix = secrets.token_hex(6)
        token = f"{SCIM_TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        with self._store.session() as s:
            row = ScimToken(
                name=name, prefix=prefix, hash=_hash(token), created_at=self._clock.now()
            )
            s.add(row)
            s.flush()
            audit.append(
                s,
                actor=actor,
                action="scim_token.issue",
                entity_type="scim_token",
                entity_id=row.id,
                after={"name": name},
                clock=self._clock,
            )
            return IssuedScimToken(row.id, name, SecretStr(token))

    def authenticate(self, token: str) -> str:
        """The token's name, or AuthenticationError (one message for every failure)."""
        generic = AuthenticationError("invalid SCIM bearer token", code="invalid_token")
        if not token.startswith(SCIM_TOKEN_PREFIX):
            raise generic
        parts = token[len(SCIM_TOKEN_PREFIX) :].split("_", 1)
        if len(parts) != 2:
            raise generic
        now = self._clock.now()
        with self._store.session() as s:
            row = s.scalar(select(ScimToken).where(ScimToken.prefix == parts[0]))
            if row is None or not hmac.compare_digest(row.hash, _hash(token)):
                raise generic
            if row.revoked_at is not None:
                raise generic
            if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
                row.last_used_at = now
            return row.name

    def revoke(self, token_id: str, *, actor: str = "system") -> None:
        with self._store.session() as s:
            row = s.get(ScimToken, token_id)
            if row is None:
                raise NotFoundError(f"no SCIM token with id {token_id!r}")
            row.revoked_at = self._clock.now()
            audit.append(
                s,
                actor=actor,
                action="scim_token.revoke",
                entity_type="scim_token",
                entity_id=row.id,
                clock=self._clock,
            )

    def list(self) -> list[ScimToken]:
        with self._store.session() as s:
            return list(s.scalars(select(ScimToken).order_by(ScimToken.created_at)))
