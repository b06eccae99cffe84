"""Console and API users: argon2id passwords, TOTP MFA, lockout, sessions, personal tokens.

Stores only hashes: argon2id for passwords, SHA-256 for session ids, personal tokens and
recovery codes (all 256-/80-bit random, so a fast hash is safe). TOTP seeds live in the vault.
Failed logins slow down progressively (each failure doubles the wait) and lock the account
after ``lockout_threshold`` failures; waits are enforced by refusing early attempts (429), never
by sleeping a server thread. Never logs or returns a password, code, seed or token after issue.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import SecretStr
from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ringfence.core.clock import Clock
from ringfence.core.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ValidationError,
)
from ringfence.core.reserved import name_problem
from ringfence.identity.models import (
    ConsoleSession,
    ConsoleUser,
    LoginThrottle,
    PersonalToken,
    RecoveryCode,
)
from ringfence.identity.roles import check_roles, needs_mfa, scopes_of
from ringfence.identity.settings import IdentitySettings
from ringfence.store import audit
from ringfence.store.db import Store
from ringfence.store.models import AuditRecord, Person
from ringfence.store.vault import Vault

PAT_PREFIX = "rf_pat_"
PENDING_SEED_TTL = timedelta(minutes=15)  # how long an unconfirmed TOTP seed is shown again
_KEYED = "k1:"  # recovery-code digests keyed by a vault secret (vs the older plain SHA-256)
_RECOVERY_KEY = "identity/recovery-code-key"
MIN_PASSWORD = 12
RECOVERY_CODES = 10
# SSO usernames taken from a name the IdP did not verify and that looks like an email carry
# this prefix (they never occupy the email namespace); local usernames may not use it.
UNVERIFIED_PREFIX = "sso:"
_ISSUER = "Ringfence"


def _changed(result: Any) -> int:
    """Rows an UPDATE changed (``Result.rowcount`` of a DML statement)."""
    return int(getattr(result, "rowcount", 0) or 0)


def _sha(kind: str, value: str) -> str:
    return hashlib.sha256(f"ringfence-{kind}:".encode() + value.encode()).hexdigest()


def _address_key(client_ip: str) -> str:
    """The per-address budget's key: the address, or its /64 for IPv6 (one host controls a
    whole /64, so rotating within it must not buy a fresh budget)."""
    try:
        ip = ipaddress.ip_address(client_ip.strip())
    except ValueError:
        return _sha("login-ip", client_ip)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return _sha("login-ip", str(ipaddress.ip_network(f"{ip}/64", strict=False)))
    return _sha(
        "login-ip", str(ip.ipv4_mapped or ip) if isinstance(ip, ipaddress.IPv6Address) else str(ip)
    )


def _unlocked(column: Any, now: datetime) -> Any:
    """SQL: no sign-in lock is in force at ``now``."""
    return or_(column.is_(None), column <= now)


def _looks_like_email(value: str) -> bool:
    local, at, domain = value.rpartition("@")
    return (
        bool(at and local and "." in domain.strip("."))
        and len(value) <= 320
        and not any(c.isspace() or ord(c) < 32 for c in value)
    )


def csrf_for(session_token: str) -> str:
    """The CSRF token bound to a session (double-submit, derived: nothing extra stored)."""
    return hmac.new(session_token.encode(), b"ringfence-csrf", hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class LoginOutcome:
    user_id: str
    username: str
    mfa_passed: bool
    must_enroll_mfa: bool


def revoke_user_credentials(s: Session, user_id: str, now: datetime) -> tuple[int, int]:
    """Revoke every live personal token and console session of a user: (tokens, sessions)."""
    tokens = sessions = 0
    for tok in s.scalars(
        select(PersonalToken).where(
            PersonalToken.user_id == user_id, PersonalToken.revoked_at.is_(None)
        )
    ):
        tok.revoked_at = now
        tokens += 1
    for sess in s.scalars(
        select(ConsoleSession).where(
            ConsoleSession.user_id == user_id, ConsoleSession.revoked_at.is_(None)
        )
    ):
        sess.revoked_at = now
        sessions += 1
    return tokens, sessions


@dataclass(frozen=True)
class SessionInfo:
    session_id: str
    user_id: str
    username: str
    person_id: str | None
    roles: tuple[str, ...]
    mfa_passed: bool
    enrolled: bool = False  # the user has a confirmed second factor here (TOTP)


@dataclass(frozen=True)
class TotpEnrollment:
    provisioning_uri: SecretStr
    qr_svg_data_uri: SecretStr


@dataclass(frozen=True)
class IssuedPersonalToken:
    id: str
    name: str
    token: SecretStr
    scopes: tuple[str, ...]
    expires_at: datetime


@dataclass(frozen=True)
class TokenIdentity:
    token_id: str
    token_name: str
    user_id: str
    username: str
    person_id: str | None
    roles: tuple[str, ...]
    scopes: frozenset[str]


class Accounts:
    def __init__(
        self,
        store: Store,
        vault: Vault,
        clock: Clock,
        settings: IdentitySettings,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self._store = store
        self._vault = vault
        self._clock = clock
        self._settings = settings
        self._hasher = hasher or PasswordHasher()  # argon2id, RFC 9106 low-memory profile
        self._dummy: str | None = None

    def needs_mfa(self, roles: Iterable[str]) -> bool:
        """Whether these roles must use MFA in this deployment (``mfa_required_roles``)."""
        return needs_mfa(roles, self._settings.mfa_required_roles)

    # -- users -----------------------------------------------------------------------------
    def create_user(
        self,
        username: str,
        *,
        roles: list[str],
        password: str | None = None,
        person_email: str | None = None,
        actor: str = "system",
    ) -> ConsoleUser:
        username = username.strip().lower()
        if not username or len(username) > 320 or any(c.isspace() for c in username):
            raise ValidationError("username must be 1-320 characters without spaces")
        problem = name_problem("console user", username)  # /identity/users/{ref} reaches it
        if problem is not None:
            raise ValidationError(problem)
        if username.startswith(UNVERIFIED_PREFIX):
            raise ValidationError(
                f"usernames starting with {UNVERIFIED_PREFIX!r} are reserved for SSO sign-ins"
            )
        wanted = check_roles(roles)
        hashed = self._hash_password(password) if password is not None else None
        with self._store.session() as s:
            if s.scalar(select(ConsoleUser.id).where(ConsoleUser.username == username)):
                raise ConflictError(f"user {username!r} already exists")
            person_id = None
            email = person_email or (username if "@" in username else None)
            if email:
                email = email.strip().lower()
                if person_email is not None and not _looks_like_email(email):
                    raise ValidationError(
                        f"person_email {person_email!r} is not an email address (name@domain)"
                    )
                person_id = s.scalar(select(Person.id).where(Person.email == email))
            user = ConsoleUser(
                username=username,
                username_source="local",
                person_email=email,
                sso_names=[],
                password_hash=hashed,
                roles=wanted,
                person_id=person_id,
                created_at=self._clock.now(),
                updated_at=self._clock.now(),
            )
            s.add(user)
            s.flush()
            audit.append(
                s,
                actor=actor,
                action="user.create",
                entity_type="console_user",
                entity_id=user.id,
                after={"username": username, "roles": wanted, "person_id": person_id},
                clock=self._clock,
            )
            return user

    def _hash_password(self, password: str) -> str:
        if len(password) < MIN_PASSWORD:
            raise ValidationError(f"password must have at least {MIN_PASSWORD} characters")
        if len(password) > 1024:
            raise ValidationError("password must have at most 1024 characters")
        return self._hasher.hash(password)

    def set_password(self, user_id: str, password: str, *, actor: str) -> None:
        hashed = self._hash_password(password)
        with self._store.session() as s:
            user = self._get(s, user_id)
            user.password_hash = hashed
            user.updated_at = self._clock.now()
            audit.append(
                s,
                actor=actor,
                action="user.password",
                entity_type="console_user",
                entity_id=user.id,
                clock=self._clock,
            )

    def set_roles(self, user_id: str, roles: list[str], *, actor: str) -> ConsoleUser:
        wanted = check_roles(roles)
        with self._store.session() as s:
            user = self._get(s, user_id)
            before = list(user.roles)
            user.roles = wanted
            user.updated_at = self._clock.now()
            audit.append(
                s,
                actor=actor,
                action="user.roles",
                entity_type="console_user",
                entity_id=user.id,
                before={"roles": before},
                after={"roles": wanted},
                clock=self._clock,
            )
            return user

    def set_disabled(
        self, user_id: str, disabled: bool, *, actor: str, reason: str = ""
    ) -> ConsoleUser:
        """Disable (reason ``admin``: no SCIM reactivation or sign-in lifts it — only an
        administrator enabling it) or enable a console user; ``reason`` goes to the audit."""
        with self._store.session() as s:
            user = self._get(s, user_id)
            now = self._clock.now()
            user.disabled_at = now if disabled else None
            user.disabled_reason = "admin" if disabled else None
            if disabled:
                revoke_user_credentials(s, user.id, now)
            audit.append(
                s,
                actor=actor,
                action="user.disable" if disabled else "user.enable",
                entity_type="console_user",
                entity_id=user.id,
                after={"reason": reason.strip()[:2000]} if reason.strip() else None,
                clock=self._clock,
            )
            return user

    def unlock(self, user_id: str, *, actor: str) -> None:
        with self._store.session() as s:
            user = self._get(s, user_id)
            user.failed_attempts = 0
            user.locked_until = None
            audit.append(
                s,
                actor=actor,
                action="user.unlock",
                entity_type="console_user",
                entity_id=user.id,
                clock=self._clock,
            )

    def list_users(self) -> list[ConsoleUser]:
        with self._store.session() as s:
            return list(s.scalars(select(ConsoleUser).order_by(ConsoleUser.username)))

    def get_user(self, ref: str) -> ConsoleUser:
        with self._store.session() as s:
            user = s.get(ConsoleUser, ref) or s.scalar(
                select(ConsoleUser).where(ConsoleUser.username == ref.strip().lower())
            )
            if user is None:
                raise NotFoundError(f"no user {ref!r}")
            return user

    def _get(self, s: Session, user_id: str) -> ConsoleUser:
        user = s.get(ConsoleUser, user_id) or s.scalar(
            select(ConsoleUser).where(ConsoleUser.username == user_id.strip().lower())
        )
        if user is None:
            raise NotFoundError(f"no user {user_id!r}")
        return user

    # -- login -----------------------------------------------------------------------------
    def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
        return self._dummy

    def _verify_password(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._dummy_hash(), password) and bool(stored)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def login_password(
        self,
        username: str,
        password: str,
        *,
        otp: str | None = None,
        recovery_code: str | None = None,
        client_ip: str | None = None,
    ) -> LoginOutcome:
        """Check password and second factor; raise 401 / 429 with one generic message.

        Each attempt is first *counted* as a failure with an atomic increment and committed,
        then the slow checks run, then the verdict is recorded (a success resets the count).
        So parallel guesses each take their own number and can never outrun the lockout, on
        SQLite as on PostgreSQL. A username that does not exist is counted in
        ``identity_login_throttle`` and answers exactly like a real one (401, then 429 with the
        same wording and timing), so the lockout does not reveal which accounts exist. Failed
        attempts are also counted per client address (``login_ip_threshold`` per
        ``login_ip_window_minutes``), which stops spraying one password over many usernames.
        """
        generic = AuthenticationError("invalid username or password", code="invalid_credentials")
        now = self._clock.now()
        name = username.strip().lower()
        # -- 1. gate + reserve ------------------------------------------------------------
        # The attempt is counted as a failure up front and the wait that failure would earn
        # is set at once, in one conditional update (no lock may be in force). A parallel
        # attempt therefore meets that wait and is refused; a success clears it again.
        with self._store.session() as s:
            if client_ip:
                self._address_gate(s, client_ip, now)
                if self._address_reserve(s, client_ip, now):
                    s.commit()  # keep the lock this attempt just set
                    self._address_gate(s, client_ip, now)
            user = s.scalar(select(ConsoleUser).where(ConsoleUser.username == name))
            if user is not None:
                user_id, stored = user.id, user.password_hash
                n = self._reserve_attempt(s, user.id, now)
            else:
                user_id, stored = None, None
                key = _sha("login-user", name)
                self._throttle_row(s, key, now)
                n = s.execute(
                    update(LoginThrottle)
                    .where(LoginThrottle.key == key, _unlocked(LoginThrottle.locked_until, now))
                    .values(failures=LoginThrottle.failures + 1)
                    .returning(LoginThrottle.failures)
                ).scalar_one_or_none()
            if n is None:  # a lock is in force (perhaps set by a parallel attempt just now)
                s.rollback()
                self._refuse_if_locked(self._current_lock(s, user_id, name), now)
                raise generic  # the lock ended between the two reads: treat as a failure
            self._apply_lock(s, user_id, name, n, now)
        # -- 2. the slow check, outside any transaction -------------------------------------
        ok = self._verify_password(stored, password)
        # -- 3. verdict -------------------------------------------------------------------
        with self._store.session() as s:
            if user_id is None:
                self._apply_lock(s, None, name, n, now)  # the address was counted up front
                s.commit()
                raise generic
            user = s.scalar(select(ConsoleUser).where(ConsoleUser.id == user_id).with_for_update())
            if user is None:  # deleted meanwhile
                raise generic
            if ok and user.disabled_at is not None:
                ok = False
            if ok and user.totp_confirmed:
                if not otp and not recovery_code:
                    # Not a verdict: hand back the reserved attempt, keep any earlier count.
                    s.execute(
                        update(ConsoleUser)
                        .where(ConsoleUser.id == user.id, ConsoleUser.failed_attempts > 0)
                        .values(failed_attempts=ConsoleUser.failed_attempts - 1, locked_until=None)
                    )
                    if client_ip:
                        self._address_refund(s, client_ip)
                    s.commit()
                    raise AuthenticationError(
                        "a one-time code from your authenticator app is required",
                        code="mfa_required",
                    )
                ok = self._second_factor(s, user, otp, recovery_code)
            if not ok:
                self._apply_lock(s, user.id, name, n, now)
                audit.append(
                    s,
                    actor=f"user:{user.username}",
                    action="user.login_failed",
                    entity_type="console_user",
                    entity_id=user.id,
                    after={"failed_attempts": user.failed_attempts},
                    clock=self._clock,
                )
                # Commit the failure count even though the login fails.
                s.commit()
                raise generic
            user.failed_attempts = 0
            user.locked_until = None
            if client_ip:
                self._address_refund(s, client_ip)  # successes do not spend the budget
            if self._hasher.check_needs_rehash(user.password_hash or ""):
                user.password_hash = self._hasher.hash(password)
            return LoginOutcome(
                user_id=user.id,
                username=user.username,
                mfa_passed=user.totp_confirmed,
                must_enroll_mfa=self.needs_mfa(user.roles) and not user.totp_confirmed,
            )

    @staticmethod
    def _reserve_attempt(s: Session, user_id: str, now: datetime) -> int | None:
        """Count an attempt as a failure in one conditional update: the user's consecutive
        failures now, or None while a lock is in force."""
        n: int | None = s.execute(
            update(ConsoleUser)
            .where(ConsoleUser.id == user_id, _unlocked(ConsoleUser.locked_until, now))
            .values(failed_attempts=ConsoleUser.failed_attempts + 1)
            .returning(ConsoleUser.failed_attempts)
        ).scalar_one_or_none()
        return n

    def _current_lock(self, s: Session, user_id: str | None, name: str) -> datetime | None:
        if user_id is not None:
            return s.scalar(select(ConsoleUser.locked_until).where(ConsoleUser.id == user_id))
        key = _sha("login-user", name)
        return s.scalar(select(LoginThrottle.locked_until).where(LoginThrottle.key == key))

    @staticmethod
    def _refuse_if_locked(locked_until: datetime | None, now: datetime) -> None:
        if locked_until is not None and locked_until > now:
            wait = max(1, math.ceil((locked_until - now).total_seconds()))
            raise RateLimitedError(
                f"too many failed sign-ins: try again in {wait} s", retry_after=wait
            )

    def _lock_after(self, n: int, now: datetime) -> datetime | None:
        """When the n-th consecutive failure lets the next attempt in (None: at once)."""
        if n >= self._settings.lockout_threshold:
            return now + timedelta(minutes=self._settings.lockout_minutes)
        if self._settings.delay_base_seconds > 0 and n > 1:
            return now + timedelta(seconds=self._settings.delay_base_seconds * 2 ** (n - 2))
        return None

    def _apply_lock(
        self, s: Session, user_id: str | None, name: str, n: int, now: datetime
    ) -> None:
        until = self._lock_after(n, now)
        if until is None:
            return
        if user_id is not None:
            target: ConsoleUser | LoginThrottle | None = s.get(ConsoleUser, user_id)
        else:
            target = s.get(LoginThrottle, _sha("login-user", name))
        if target is not None and (target.locked_until is None or target.locked_until < until):
            target.locked_until = until  # never shorten a lock a parallel attempt set

    # -- failed sign-ins per unknown username and per client address ------------------------
    @staticmethod
    def _throttle_row(s: Session, key: str, now: datetime) -> LoginThrottle:
        insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
        s.execute(
            insert(LoginThrottle)
            .values(key=key, failures=0, window_started_at=now)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        row = s.scalar(select(LoginThrottle).where(LoginThrottle.key == key).with_for_update())
        assert row is not None  # inserted above or already there; rows are never deleted here
        return row

    @staticmethod
    def _bump(s: Session, key: str) -> int:
        n: int = s.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key == key)
            .values(failures=LoginThrottle.failures + 1)
            .returning(LoginThrottle.failures)
        ).scalar_one()
        return n

    def _address_gate(self, s: Session, client_ip: str, now: datetime) -> None:
        row = s.get(LoginThrottle, _address_key(client_ip))
        if row is not None and row.locked_until is not None and row.locked_until > now:
            wait = max(1, math.ceil((row.locked_until - now).total_seconds()))
            raise RateLimitedError(
                f"too many failed sign-ins from this address: try again in {wait} s",
                retry_after=wait,
            )

    def _address_reserve(self, s: Session, client_ip: str, now: datetime) -> bool:
        """Count this attempt against the address before any password is checked (so parallel
        attempts cannot outrun the budget); True when it used up the budget (lock set)."""
        window = timedelta(minutes=self._settings.login_ip_window_minutes)
        row = self._throttle_row(s, _address_key(client_ip), now)
        if now - row.window_started_at >= window:
            row.failures, row.window_started_at, row.locked_until = 0, now, None
            s.flush()
        n = self._bump(s, row.key)
        if n >= self._settings.login_ip_threshold:
            until = row.window_started_at + window
            row.locked_until = until if until > now else now + window
            return n > self._settings.login_ip_threshold
        return False

    def _address_refund(self, s: Session, client_ip: str) -> None:
        """A success (or an MFA prompt) hands the address's counted attempt back."""
        key = _address_key(client_ip)
        s.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key == key, LoginThrottle.failures > 0)
            .values(failures=LoginThrottle.failures - 1)
            .execution_options(synchronize_session=False)
        )
        s.execute(
            update(LoginThrottle)
            .where(
                LoginThrottle.key == key,
                LoginThrottle.failures < self._settings.login_ip_threshold,
            )
            .values(locked_until=None)
            .execution_options(synchronize_session=False)
        )

    def _second_factor(
        self, s: Session, user: ConsoleUser, otp: str | None, recovery_code: str | None
    ) -> bool:
        if otp:
            return self._check_totp(s, user, otp)
        if recovery_code:
            raw = recovery_code.strip().replace("-", "").lower()
            keyed, legacy = self._recovery_digest(raw), _sha("recovery", raw)
            for code in s.scalars(
                select(RecoveryCode).where(
                    RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
                )
            ):
                wanted = keyed if code.hash.startswith(_KEYED) else legacy
                if hmac.compare_digest(code.hash, wanted):
                    # Single use, also under concurrent sign-ins: the read above may be stale
                    # (SQLite reads outside the write transaction), so the code is spent by a
                    # conditional update, and only the one that changed the row wins.
                    spent = s.execute(
                        update(RecoveryCode)
                        .where(RecoveryCode.id == code.id, RecoveryCode.used_at.is_(None))
                        .values(used_at=self._clock.now())
                        .execution_options(synchronize_session=False)
                    )
                    return _changed(spent) == 1
        return False

    def _check_totp(self, s: Session, user: ConsoleUser, otp: str) -> bool:
        if not user.totp_ref or not otp.strip().isdigit() or len(otp.strip()) != 6:
            return False
        totp = pyotp.TOTP(self._vault.get(user.totp_ref).get_secret_value())
        now = self._clock.now()
        for drift in (0, -1, 1):
            at = now + timedelta(seconds=30 * drift)
            step = int(at.timestamp()) // 30
            if hmac.compare_digest(totp.at(at), otp.strip()):
                # A code is good once: replaying it (or an older one) fails — also when two
                # sign-ins present it at once. The step is claimed by a conditional update
                # (the row as read may be stale): only the sign-in that moved it on passes.
                if user.totp_last_step is not None and step <= user.totp_last_step:
                    return False
                claimed = s.execute(
                    update(ConsoleUser)
                    .where(
                        ConsoleUser.id == user.id,
                        or_(
                            ConsoleUser.totp_last_step.is_(None),
                            ConsoleUser.totp_last_step < step,
                        ),
                    )
                    .values(totp_last_step=step)
                    .execution_options(synchronize_session=False)
                )
                if _changed(claimed) != 1:
                    return False
                set_committed_value(user, "totp_last_step", step)
                return True
        return False

    # -- MFA enrolment ---------------------------------------------------------------------
    def begin_totp(
        self, user_id: str, *, reuse_pending: bool = False, session_token: str | None = None
    ) -> TotpEnrollment:
        """Start TOTP enrolment with a new seed, or (``reuse_pending``) show the seed of an
        enrolment already started and not confirmed: a page that is only looked at (the
        console's GET) must not replace the seed the person may have just scanned.

        A pending seed is shown again only to the session that began the enrolment
        (``session_token``; recorded in the ``user.mfa_begin`` audit record): otherwise
        whoever else holds the password could begin an enrolment, and the seed they know
        would be the one the owner scans and confirms a moment later."""
        with self._store.session() as s:
            user = self._get(s, user_id)
            if user.totp_confirmed:
                raise ConflictError("MFA is already enrolled; reset it before enrolling again")
            username, uid, pending = user.username, user.id, user.totp_ref
            session_id = self._session_id(s, session_token) if session_token else None
            began_by = self._pending_began_by(s, uid) if reuse_pending and pending else None
        if reuse_pending and pending and self._vault.exists(pending) and began_by == session_id:
            fresh = self._clock.now() - self._vault.metadata(pending).updated_at
            if fresh <= PENDING_SEED_TTL:  # an old or lost pending seed is replaced
                return self._enrollment(username, self._vault.get(pending).get_secret_value())
        seed = pyotp.random_base32()
        ref = f"identity/totp/{uid}"
        self._vault.put(ref, seed, description=f"TOTP seed of {username}", actor=f"user:{username}")
        with self._store.session() as s:
            user = self._get(s, uid)
            user.totp_ref = ref
            user.totp_confirmed = False
            audit.append(
                s,
                actor=f"user:{username}",
                action="user.mfa_begin",
                entity_type="console_user",
                entity_id=uid,
                # the session's row id, under a key the audit log does not redact ("session")
                after={"began_in": session_id},
                clock=self._clock,
            )
        return self._enrollment(username, seed)

    @staticmethod
    def _session_id(s: Session, session_token: str) -> str | None:
        found: str | None = s.scalar(
            select(ConsoleSession.id).where(
                ConsoleSession.token_hash == _sha("session", session_token)
            )
        )
        return found

    @staticmethod
    def _pending_began_by(s: Session, user_id: str) -> str | None:
        """The session that began the user's latest enrolment (None: none recorded)."""
        after = s.scalar(
            select(AuditRecord.after)
            .where(
                AuditRecord.entity_id == user_id,
                AuditRecord.action == "user.mfa_begin",
                AuditRecord.entity_type == "console_user",
            )
            .order_by(AuditRecord.seq.desc())
            .limit(1)
        )
        began = after.get("began_in") if isinstance(after, dict) else None
        return began if isinstance(began, str) else None

    @staticmethod
    def _enrollment(username: str, seed: str) -> TotpEnrollment:
        uri = pyotp.TOTP(seed).provisioning_uri(name=username, issuer_name=_ISSUER)
        qr = segno.make(uri, error="m").svg_data_uri(scale=4)
        return TotpEnrollment(SecretStr(uri), SecretStr(qr))

    def confirm_totp(
        self, user_id: str, otp: str, *, actor: str, keep_session: str | None = None
    ) -> list[str]:
        """Confirm enrolment with a first code; returns recovery codes (shown once).

        Every other session of the user that has not passed MFA ends here: a session opened
        with the password alone before enrolment (perhaps by whoever else knew it) must not
        outlive the second factor. ``keep_session`` (the enrolling session's token) is left
        for the caller to rotate."""
        self._recovery_key()  # before the transaction below: the vault writes in its own
        with self._store.session() as s:
            user = self._get(s, user_id)
            if user.totp_confirmed:
                raise ConflictError("MFA is already enrolled")
            if not user.totp_ref or not self._check_totp(s, user, otp):
                raise ValidationError("that code is not valid: check the device clock and retry")
            user.totp_confirmed = True
            keep = _sha("session", keep_session) if keep_session else None
            ended = 0
            for sess in s.scalars(
                select(ConsoleSession).where(
                    ConsoleSession.user_id == user.id,
                    ConsoleSession.revoked_at.is_(None),
                    ConsoleSession.mfa_passed.is_(False),
                )
            ):
                if sess.token_hash != keep:
                    sess.revoked_at = self._clock.now()
                    ended += 1
            # Personal tokens the user minted from a session before enrolling were minted
            # without a second factor (by the user, or by whoever else had the password): they
            # must not outlive it either. Tokens an operator issued (``ringfence users
            # token-create``, another administrator) are the operator's decision and stay.
            self_issued = set(
                s.scalars(
                    select(AuditRecord.entity_id).where(
                        AuditRecord.action == "token.issue",
                        AuditRecord.entity_type == "personal_token",
                        AuditRecord.actor == f"user:{user.username}",
                    )
                )
            )
            revoked_tokens = []
            for tok in s.scalars(
                select(PersonalToken).where(
                    PersonalToken.user_id == user.id, PersonalToken.revoked_at.is_(None)
                )
            ):
                if tok.id in self_issued:
                    tok.revoked_at = self._clock.now()
                    revoked_tokens.append(tok.id)
            codes = self._new_recovery_codes(s, user.id)
            audit.append(
                s,
                actor=actor,
                action="user.mfa_enroll",
                entity_type="console_user",
                entity_id=user.id,
                after={
                    "sessions_without_mfa_ended": ended,
                    "tokens_without_mfa_revoked": revoked_tokens,
                },
                clock=self._clock,
            )
            return codes

    def step_up(
        self,
        session_token: str,
        user_id: str,
        *,
        otp: str | None = None,
        recovery_code: str | None = None,
    ) -> SecretStr:
        """Pass MFA in a session that has not (an SSO sign-in whose provider asserted no MFA,
        for a user enrolled here): the TOTP code or a recovery code, counted against the same
        lockout as sign-ins; the session is replaced by an MFA-passed one, returned."""
        now = self._clock.now()
        with self._store.session() as s:
            user = self._get(s, user_id)
            if not user.totp_confirmed:
                raise ConflictError("MFA is not enrolled: enrol first", code="mfa_not_enrolled")
            name = user.username
            # counted as a failure up front, atomically (parallel guesses cannot outrun the
            # lockout); a success clears it
            n = self._reserve_attempt(s, user_id, now)
            if n is None:
                s.rollback()
                self._refuse_if_locked(self._current_lock(s, user_id, name), now)
                raise AuthenticationError("that code is not valid", code="invalid_code")
            self._apply_lock(s, user_id, name, n, now)
        with self._store.session() as s:
            user = self._get(s, user_id)
            if not self._second_factor(s, user, otp, recovery_code):
                audit.append(
                    s,
                    actor=f"user:{name}",
                    action="user.mfa_step_up_failed",
                    entity_type="console_user",
                    entity_id=user_id,
                    clock=self._clock,
                )
                s.commit()
                raise AuthenticationError("that code is not valid", code="invalid_code")
            user.failed_attempts, user.locked_until = 0, None
            audit.append(
                s,
                actor=f"user:{name}",
                action="user.mfa_step_up",
                entity_type="console_user",
                entity_id=user_id,
                after={"with": "totp" if otp else "recovery_code"},
                clock=self._clock,
            )
        fresh = self.rotate_session_after_mfa(session_token, user_id, reason="mfa_step_up")
        if fresh is None:
            raise AuthenticationError("your session has expired: sign in again", code="session")
        return fresh

    def _new_recovery_codes(self, s: Session, user_id: str) -> list[str]:
        for old in s.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user_id)):
            s.delete(old)
        codes = []
        for _ in range(RECOVERY_CODES):
            raw = secrets.token_hex(5)  # 40 bits each; single use, rate-limited by lockout
            codes.append(f"{raw[:5]}-{raw[5:]}")
            s.add(RecoveryCode(user_id=user_id, hash=self._recovery_digest(raw)))
        return codes

    def _recovery_digest(self, raw: str) -> str:
        """HMAC-SHA256 under a random key kept in the vault: a recovery code has only 40 bits,
        so a plain hash in a stolen database could be brute-forced offline; without the master
        key (which unlocks the vault) this one cannot. The key is a vault secret, not derived
        from the master key, so it survives a master-key rotation (the vault re-wraps it).
        Codes stored before (plain ``_sha``) still verify."""
        return _KEYED + hmac.new(self._recovery_key(), raw.encode(), hashlib.sha256).hexdigest()

    def _recovery_key(self) -> bytes:
        """The digest key, created on first use. Call it outside any open write transaction
        (the vault commits in a session of its own)."""
        if not self._vault.exists(_RECOVERY_KEY):
            self._vault.put(
                _RECOVERY_KEY,
                secrets.token_urlsafe(32),
                description="HMAC key of console recovery-code digests",
            )
        return self._vault.get(_RECOVERY_KEY).get_secret_value().encode()

    def reset_mfa(self, user_id: str, *, actor: str) -> None:
        """Forget the second factor: the seed is deleted, not kept for re-use — a reset usually
        follows a lost or stolen device, and its seed must never come back as "pending"."""
        with self._store.session() as s:
            user = self._get(s, user_id)
            old_seed, user.totp_ref = user.totp_ref, None
            user.totp_confirmed = False
            user.totp_last_step = None
            for old in s.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)):
                s.delete(old)
            revoke_user_credentials(s, user.id, self._clock.now())
            audit.append(
                s,
                actor=actor,
                action="user.mfa_reset",
                entity_type="console_user",
                entity_id=user.id,
                clock=self._clock,
            )
        if old_seed and self._vault.exists(old_seed):
            self._vault.delete(old_seed, actor=actor)

    def rotate_session_after_mfa(
        self, session_token: str, user_id: str, *, reason: str = "mfa_enrolled"
    ) -> SecretStr | None:
        """After enrolment confirmed a fresh code: end the enrolling session, issue a new one.

        The session id changes when its privilege does (MFA passed), so an id that leaked or
        was planted before enrolment (session fixation) is worth nothing afterwards."""
        now = self._clock.now()
        with self._store.session() as s:
            sess = s.scalar(
                select(ConsoleSession).where(
                    ConsoleSession.token_hash == _sha("session", session_token)
                )
            )
            if (
                sess is None
                or sess.user_id != user_id
                or sess.revoked_at is not None
                or sess.expires_at <= now
            ):
                return None
            sess.revoked_at = now
            method = sess.method
            audit.append(
                s,
                actor=f"user:{user_id}",
                action="session.rotate",
                entity_type="console_user",
                entity_id=user_id,
                after={"reason": reason},
                clock=self._clock,
            )
        return self.create_session(user_id, mfa_passed=True, method=method)

    # -- sessions --------------------------------------------------------------------------
    def sign_in_session(
        self, user_id: str, *, mfa_passed: bool, method: str, replacing: str | None
    ) -> SecretStr:
        """A new session for a sign-in; the session whose cookie the browser sent (``replacing``:
        the previous user of a shared browser, or the same user signing in again) ends — its
        cookie is overwritten, so only someone who copied it could still use it."""
        if replacing:
            self.revoke_session(replacing)
        return self.create_session(user_id, mfa_passed=mfa_passed, method=method)

    def create_session(self, user_id: str, *, mfa_passed: bool, method: str) -> SecretStr:
        token = secrets.token_urlsafe(32)
        now = self._clock.now()
        with self._store.session() as s:
            s.add(
                ConsoleSession(
                    user_id=user_id,
                    token_hash=_sha("session", token),
                    mfa_passed=mfa_passed,
                    method=method,
                    created_at=now,
                    expires_at=now + timedelta(minutes=self._settings.session_ttl_minutes),
                )
            )
            audit.append(
                s,
                actor=f"user:{user_id}",
                action="session.create",
                entity_type="console_user",
                entity_id=user_id,
                after={"method": method, "mfa": mfa_passed},
                clock=self._clock,
            )
        return SecretStr(token)

    def resolve_session(self, token: str) -> SessionInfo | None:
        """The live session behind a cookie, or None: unknown, revoked, expired (absolute
        lifetime), idle for longer than ``session_idle_minutes``, or its user disabled."""
        now = self._clock.now()
        with self._store.session() as s:
            row = s.execute(
                select(ConsoleSession, ConsoleUser)
                .join(ConsoleUser, ConsoleUser.id == ConsoleSession.user_id)
                .where(ConsoleSession.token_hash == _sha("session", token))
            ).first()
            if row is None:
                return None
            sess, user = row
            if sess.revoked_at is not None or sess.expires_at <= now or user.disabled_at:
                return None
            last = sess.last_seen_at or sess.created_at
            if now - last > timedelta(minutes=self._settings.session_idle_minutes):
                return None
            if now - last >= timedelta(minutes=1):
                sess.last_seen_at = now  # at most one write a minute per session
            return SessionInfo(
                sess.id,
                user.id,
                user.username,
                user.person_id,
                tuple(user.roles),
                sess.mfa_passed,
                bool(user.totp_confirmed),
            )

    def revoke_session(self, token: str) -> None:
        with self._store.session() as s:
            sess = s.scalar(
                select(ConsoleSession).where(ConsoleSession.token_hash == _sha("session", token))
            )
            if sess is not None and sess.revoked_at is None:
                sess.revoked_at = self._clock.now()
                audit.append(
                    s,
                    actor=f"user:{sess.user_id}",
                    action="session.revoke",
                    entity_type="console_user",
                    entity_id=sess.user_id,
                    after={"method": sess.method},
                    clock=self._clock,
                )

    # -- personal API tokens ---------------------------------------------------------------
    def issue_token(
        self,
        user_id: str,
        name: str,
        scopes: list[str],
        ttl_days: int,
        *,
        actor: str,
        within: frozenset[str] | None = None,
    ) -> IssuedPersonalToken:
        """A personal API token with ``scopes``: a subset of the user's role scopes and, with
        ``within``, of the scopes the caller holds now (a token cannot widen its issuer)."""
        if not name.strip() or len(name) > 200:
            raise ValidationError("a token needs a name of 1-200 characters")
        if not 1 <= ttl_days <= self._settings.token_max_days:
            raise ValidationError(
                f"token lifetime must be 1-{self._settings.token_max_days} days (tokens expire)"
            )
        with self._store.session() as s:
            user = self._get(s, user_id)
            allowed = scopes_of(user.roles)
            if within is not None:
                allowed = allowed & within
            if self.needs_mfa(user.roles) and not user.totp_confirmed:
                raise PermissionDeniedError(
                    "enrol MFA before issuing API tokens", code="mfa_required"
                )
            wanted = sorted(set(scopes))
            if not wanted or set(wanted) - allowed:
                raise ValidationError(
                    f"token scopes must be a non-empty subset of your scopes {sorted(allowed)}; "
                    f"not allowed: {sorted(set(wanted) - allowed)}"
                )
            prefix = secrets.token_hex(6)
            token = f"{PAT_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
            now = self._clock.now()
            row = PersonalToken(
                user_id=user.id,
                name=name,
                prefix=prefix,
                hash=_sha("pat", token),
                scopes=wanted,
                created_at=now,
                expires_at=now + timedelta(days=ttl_days),
            )
            s.add(row)
            s.flush()
            audit.append(
                s,
                actor=actor,
                action="token.issue",
                entity_type="personal_token",
                entity_id=row.id,
                after={"name": name, "scopes": wanted, "user_id": user.id},
                clock=self._clock,
            )
            return IssuedPersonalToken(
                row.id, name, SecretStr(token), tuple(wanted), row.expires_at
            )

    def authenticate_token(self, token: str) -> TokenIdentity:
        generic = AuthenticationError("invalid or expired API token", code="invalid_token")
        parts = token.removeprefix(PAT_PREFIX).split("_", 1)
        if not token.startswith(PAT_PREFIX) or len(parts) != 2:
            raise generic
        now = self._clock.now()
        with self._store.session() as s:
            found = s.execute(
                select(PersonalToken, ConsoleUser)
                .join(ConsoleUser, ConsoleUser.id == PersonalToken.user_id)
                .where(PersonalToken.prefix == parts[0])
            ).first()
            if found is None:
                raise generic
            tok, user = found
            if not hmac.compare_digest(tok.hash, _sha("pat", token)):
                raise generic
            if tok.revoked_at is not None or tok.expires_at <= now or user.disabled_at:
                raise generic
            if tok.last_used_at is None or now - tok.last_used_at > timedelta(minutes=1):
                tok.last_used_at = now
            # Effective scopes shrink with the user's roles: a demoted user's tokens follow.
            scopes = frozenset(tok.scopes) & scopes_of(user.roles)
            if self.needs_mfa(user.roles) and not user.totp_confirmed:
                # Same rule as sessions: an admin without MFA acts on nothing (e.g. a token
                # issued before a promotion to admin); enrol MFA in the console first.
                scopes = frozenset()
            return TokenIdentity(
                tok.id, tok.name, user.id, user.username, user.person_id, tuple(user.roles), scopes
            )

    def list_tokens(self, user_id: str) -> list[PersonalToken]:
        with self._store.session() as s:
            return list(
                s.scalars(
                    select(PersonalToken)
                    .where(PersonalToken.user_id == user_id)
                    .order_by(PersonalToken.created_at)
                )
            )

    def revoke_token(self, user_id: str | None, token_id: str, *, actor: str) -> None:
        """Revoke a token; ``user_id`` limits it to that user's tokens (None: any, admins)."""
        with self._store.session() as s:
            tok = s.get(PersonalToken, token_id)
            if tok is None or (user_id is not None and tok.user_id != user_id):
                raise NotFoundError(f"no token {token_id!r}")
            tok.revoked_at = tok.revoked_at or self._clock.now()
            audit.append(
                s,
                actor=actor,
                action="token.revoke",
                entity_type="personal_token",
                entity_id=tok.id,
                clock=self._clock,
            )
