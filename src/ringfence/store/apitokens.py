"""Control-plane API tokens: ``rf_cp_<prefix>_<secret>``; only a SHA-256 of the token is kept.

Tokens carry 256 bits of randomness, so a fast hash is safe (no dictionary to attack) and keeps
verification cheap; comparison is constant-time. A token is shown once, at creation, and never
stored, logged or returned again. The identity capability replaces these with user-bound
personal tokens later; the format stays.

Each token records who created it (``created_by``): ``user:NAME`` when a person is named
(``ringfence token create --by NAME``), ``cli`` when the CLI made it with no person named, None
for a token made before migration 0019 that no audit record names. Four-eyes checks treat a
request made with a token as its creator's (:func:`creators`); a token whose creator is not a
person cannot be one of the two eyes, until :meth:`ApiTokens.attribute` names one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import SecretStr
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ringfence.core.clock import Clock, SystemClock
from ringfence.core.errors import AuthenticationError, ConflictError, ValidationError
from ringfence.store import audit
from ringfence.store.db import Store
from ringfence.store.models import ApiToken

TOKEN_PREFIX = "rf_cp_"
SCOPES = frozenset({"read", "write"})
# ``created_by`` of a token the CLI made without naming a person: recorded, but no person.
CLI_CREATOR = "cli"
PERSON_PREFIX = "user:"


def person_creator(name: str) -> str:
    """``user:NAME`` for a person named as a token's creator, or ValidationError."""
    clean = name.strip()
    if clean.lower().startswith(PERSON_PREFIX):
        clean = clean[len(PERSON_PREFIX) :].strip()
    if not clean or len(clean) > 200 or not clean.isprintable() or ":" in clean:
        raise ValidationError(
            "a token's creator is a person: their console username or e-mail, 1-200 "
            "printable characters without ':'"
        )
    return PERSON_PREFIX + clean


def is_person(created_by: str | None) -> bool:
    """Whether a ``created_by`` names a person (``cli`` and unknown do not)."""
    return created_by is not None and created_by.startswith(PERSON_PREFIX)


def creators(session: Session, name: str, at: datetime) -> list[str | None]:
    """``created_by`` of every token named ``name`` that could have been used at ``at``.

    Audit records and incidents name a token by its name (``token:NAME``), which is not
    unique: every token of that name alive at the time counts, so a reused name can only add
    people to compare with, never hide one. Empty when no such token existed (the caller
    fails closed)."""
    rows = session.scalars(
        select(ApiToken.created_by).where(
            ApiToken.name == name,
            ApiToken.created_at <= at,
            or_(ApiToken.revoked_at.is_(None), ApiToken.revoked_at >= at),
            or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > at),
        )
    )
    return list(rows)


def _hash(token: str) -> str:
    return hashlib.sha256(b"ringfence-api-token:" + token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    id: str
    name: str
    token: SecretStr
    scopes: tuple[str, ...]
    expires_at: datetime | None
    created_by: str | None = None


@dataclass(frozen=True)
class TokenPrincipal:
    id: str
    name: str
    scopes: frozenset[str]

    @property
    def actor(self) -> str:
        return f"token:{self.name}"


class ApiTokens:
    def __init__(self, store: Store, clock: Clock | None = None) -> None:
        self._store = store
        self._clock = clock or SystemClock()

    def issue(
        self,
        name: str,
        scopes: list[str] | tuple[str, ...],
        ttl_days: int | None = 90,
        *,
        actor: str | None = None,
        created_by: str | None = None,
    ) -> IssuedToken:
        """Create a token. With ``actor`` its ``api_token.create`` audit record is appended in
        the same transaction (no token without its record, whatever fails in between).
        ``created_by`` is ``user:NAME`` (:func:`person_creator`) or :data:`CLI_CREATOR`;
        None leaves the creator unknown (a test's token), which four eyes treat as nobody."""
        if created_by is not None and created_by != CLI_CREATOR:
            created_by = person_creator(created_by)
        bad = set(scopes) - SCOPES
        if not scopes or bad:
            raise ValidationError(
                f"token scopes must be a non-empty subset of {sorted(SCOPES)}; got {sorted(bad)}"
            )
        if ttl_days is not None and not 1 <= ttl_days <= 3650:
            raise ValidationError("token lifetime must be between 1 and 3650 days")
        prefix = secrets.token_hex(6)
        token = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        now = self._clock.now()
        expires = now + timedelta(days=ttl_days) if ttl_days else None
        scope_list = sorted(set(scopes))
        if "write" in scope_list and "read" not in scope_list:
            scope_list = ["read", "write"]
        row = ApiToken(
            name=name,
            prefix=prefix,
            hash=_hash(token),
            scopes=scope_list,
            created_at=now,
            expires_at=expires,
            created_by=created_by,
        )
        with self._store.session() as s:
            s.add(row)
            s.flush()
            if actor is not None:
                audit.append(
                    s,
                    actor=actor,
                    action="api_token.create",
                    entity_type="api_token",
                    entity_id=row.id,
                    after={
                        "name": name,
                        "scopes": list(scope_list),
                        "expires_at": expires.isoformat() if expires else None,
                        "created_by": created_by,
                    },
                    clock=self._clock,
                )
            return IssuedToken(
                row.id, name, SecretStr(token), tuple(scope_list), expires, created_by
            )

    def authenticate(self, token: str) -> TokenPrincipal:
        """Resolve a presented token or raise AuthenticationError (one message for every case)."""
        generic = AuthenticationError("invalid or expired API token", code="invalid_token")
        if not token.startswith(TOKEN_PREFIX):
            raise generic
        parts = token[len(TOKEN_PREFIX) :].split("_", 1)
        if len(parts) != 2:
            raise generic
        now = self._clock.now()
        with self._store.session() as s:
            row = s.scalar(select(ApiToken).where(ApiToken.prefix == parts[0]))
            if row is None or not hmac.compare_digest(row.hash, _hash(token)):
                raise generic
            if row.revoked_at is not None or (row.expires_at and row.expires_at <= now):
                raise generic
            if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
                row.last_used_at = now
            return TokenPrincipal(row.id, row.name, frozenset(row.scopes))

    def revoke(self, token_id: str, *, actor: str | None = None) -> None:
        """Revoke a token; with ``actor`` its ``api_token.revoke`` record is appended in the
        same transaction."""
        with self._store.session() as s:
            row = s.get(ApiToken, token_id)
            if row is None:
                raise ValidationError(f"no API token with id {token_id!r}")
            row.revoked_at = self._clock.now()
            if actor is not None:
                audit.append(
                    s,
                    actor=actor,
                    action="api_token.revoke",
                    entity_type="api_token",
                    entity_id=token_id,
                    clock=self._clock,
                )

    def attribute(self, token_id: str, person: str, *, actor: str) -> str:
        """Name the person behind a token whose creator is not one (made by the CLI without
        ``--by``, or before creators were recorded); returns the new ``created_by``. A
        recorded person is never replaced: that would let whoever holds the token move its
        requests off their own name. Audited (``api_token.attribute``) in the same
        transaction."""
        created_by = person_creator(person)
        with self._store.session() as s:
            row = s.get(ApiToken, token_id)
            if row is None:
                raise ValidationError(f"no API token with id {token_id!r}")
            if is_person(row.created_by):
                raise ConflictError(
                    f"API token {row.name!r} was created by {row.created_by}; a recorded "
                    "creator is not changed (revoke the token and create another)",
                    code="creator_recorded",
                )
            before = row.created_by
            row.created_by = created_by
            audit.append(
                s,
                actor=actor,
                action="api_token.attribute",
                entity_type="api_token",
                entity_id=token_id,
                before={"created_by": before},
                after={"created_by": created_by},
                clock=self._clock,
            )
        return created_by

    def list(self) -> list[ApiToken]:
        with self._store.session() as s:
            return list(s.scalars(select(ApiToken).order_by(ApiToken.created_at)))
