"""The vault: envelope encryption of secrets with AES-256-GCM.

Each secret gets its own random 256-bit data key; the data key is wrapped (AES-256-GCM) by the
master key, which comes from a 0600 file or ``RINGFENCE_MASTER_KEY``. Rotating the master key
re-wraps every data key in one transaction. The associated data binds each ciphertext to its
secret's name and version, so rows cannot be swapped.

Every change (create, update, delete, master-key rotation) appends its audit record in the
*same* transaction as the change: there is no committed change without its record. The record
of a create / update names the version and a SHA-256 of the ciphertext, so the tamper-evident
audit chain anchors what each secret must be: ``get`` refuses a row that is not the newest
version the chain recorded — an older ciphertext of the same secret put back by someone with
write access to the database (a revoked credential) decrypts, but is refused. Versions only
grow, also across a delete, so no older ciphertext ever matches a newer record. ``get`` checks
the keyed link (HMAC under the audit key derived from the master key) of the record it relies
on, so a state record forged by a database writer without the master key refuses the secret;
a rotation re-records each state under the new key for that reason.
Lock order: the audit chain's lock first, then the vault's (no deadlock between writers).
This module never logs, prints, reprs or puts into an exception message a secret or a key.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.orm import Session

from ringfence.core.clock import Clock, SystemClock
from ringfence.core.errors import (
    ConfigError,
    ConflictError,
    IntegrityError,
    NotFoundError,
    ValidationError,
)
from ringfence.store import audit
from ringfence.store.db import Store
from ringfence.store.models import AuditRecord, VaultSecret

MASTER_KEY_ENV = "RINGFENCE_MASTER_KEY"
NEW_MASTER_KEY_ENV = "RINGFENCE_NEW_MASTER_KEY"
_NONCE = 12
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/")

#: Vault names Ringfence keeps for its own keys: TOTP seeds and the OIDC / recovery-code MAC
#: keys, the gateway's token-signing keys, the data keys of vendor documents. A reference in
#: ringfence.yaml or the API may not name them — whoever may edit the estate must not be able
#: to have the gateway inject one upstream, or a playbook step overwrite one.
RESERVED_PREFIXES = ("identity/", "gateway/signing/", "vendors/documents/")


def is_reserved(name: str) -> bool:
    return name.startswith(RESERVED_PREFIXES)


def validate_secret_name(name: str) -> str:
    if not name or len(name) > 200 or not set(name) <= _NAME_CHARS:
        raise ValidationError(
            f"invalid secret name {name!r}: use 1-200 characters of letters, digits, . _ - /"
        )
    return name


class MasterKey:
    """A 256-bit key with a public fingerprint; its bytes never leave this object by repr."""

    __slots__ = ("_key", "key_id")

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ConfigError("master key must be 32 bytes (256 bits), base64-encoded")
        self._key = key
        self.key_id = hashlib.sha256(b"ringfence-master-key-id:" + key).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"MasterKey(id={self.key_id})"

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(AESGCM.generate_key(bit_length=256))

    @classmethod
    def from_b64(cls, text: str, *, origin: str) -> MasterKey:
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except ValueError:
            raise ConfigError(f"{origin}: master key is not valid base64") from None
        if len(raw) != 32:
            raise ConfigError(f"{origin}: master key must decode to 32 bytes, got {len(raw)}")
        return cls(raw)

    def to_b64(self) -> str:
        return base64.b64encode(self._key).decode()

    def wrap(self, data_key: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + AESGCM(self._key).encrypt(nonce, data_key, aad)

    def unwrap(self, blob: bytes, aad: bytes) -> bytes:
        return AESGCM(self._key).decrypt(blob[:_NONCE], blob[_NONCE:], aad)

    def derive(self, purpose: bytes, salt: bytes) -> bytes:
        """A 256-bit key for one purpose (HKDF-SHA256), e.g. sealing a backup."""
        return HKDF(algorithm=SHA256(), length=32, salt=salt, info=purpose).derive(self._key)


def write_key_file(path: Path, key: MasterKey) -> None:
    """Create ``path`` with mode 0600 from the start (no window where it is readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.to_b64() + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_key_file(path: Path) -> MasterKey:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        raise ConfigError(
            f"master key file {path} not found: run `ringfence init` or set {MASTER_KEY_ENV}"
        ) from None
    if mode & 0o077:
        raise ConfigError(
            f"master key file {path} has mode {mode:o}; it must be 0600 (chmod 600 {path})"
        )
    return MasterKey.from_b64(path.read_text(encoding="utf-8"), origin=str(path))


@contextmanager
def _key_file_lock(key_file: Path, *, wait: bool = False) -> Iterator[bool]:
    """Hold ``<key file>.lock`` exclusively: one rotation (or the completion of an interrupted
    one) at a time touches ``.next`` and the key file. Yields False when another process holds
    it and ``wait`` is False."""
    lock = key_file.with_name(key_file.name + ".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # releases the lock


def _lock_rows(session: Session) -> None:
    """Serialise writers of ``vault_secrets`` (a rotation against a rotation or a put) for the
    rest of the transaction, so a row read is not rewritten underneath by another process."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(0x52465654)))  # "RFVT"
    elif dialect == "sqlite":
        session.execute(text("UPDATE vault_secrets SET version = version WHERE 0"))


#: The audit log's entity type of a secret, and the actions that record what a secret is.
AUDIT_ENTITY = "vault_secret"
DIGEST_KEY = "ciphertext_sha256"
#: The schema revision from which every stored secret has a state record (the migration
#: that anchored the secrets stored before).
BASELINE_REVISION = "0018_vault_audit_baseline"
_STATE_ACTIONS = ("vault.create", "vault.update", "vault.delete", "vault.baseline")


# Built once (a get's statements differ only by the name): building a select each call cost
# more than checking the state record's link.
_STATE_RECORDS = (
    select(*audit.record_columns())
    .where(
        AuditRecord.entity_id == bindparam("name"),
        AuditRecord.entity_type == AUDIT_ENTITY,
        AuditRecord.action.in_(_STATE_ACTIONS),
    )
    .order_by(AuditRecord.seq)
)
_SECRET_ROW = select(VaultSecret).where(VaultSecret.name == bindparam("name"))


def ciphertext_digest(ciphertext: bytes) -> str:
    """What the audit record of a version names: a hash of the ciphertext (never of the value).
    A master-key rotation re-wraps the data key and leaves the ciphertext, so it stays valid."""
    return hashlib.sha256(b"ringfence/vault/ciphertext:" + bytes(ciphertext)).hexdigest()


@dataclass(frozen=True)
class RecordedState:
    """What the audit chain says a secret is: its newest record, the highest version ever."""

    seq: int
    version: int
    digest: str | None  # None: the newest record is a delete
    highest: int

    @property
    def deleted(self) -> bool:
        return self.digest is None


def recorded_state(conn: Session | Any, name: str) -> RecordedState | None:
    """The secret's state by its audit records (None: none). ``conn`` is a session or a
    connection. Records without a version digest (written before they carried one) are not
    evidence and are skipped."""
    rows = conn.execute(
        select(AuditRecord.seq, AuditRecord.action, AuditRecord.after)
        .where(
            AuditRecord.entity_id == name,
            AuditRecord.entity_type == AUDIT_ENTITY,
            AuditRecord.action.in_(_STATE_ACTIONS),
        )
        .order_by(AuditRecord.seq)
    ).all()
    return fold_records((r[0], r[1], r[2]) for r in rows)


def is_state_record(entity_type: str, action: str) -> bool:
    """Whether an audit record says what a secret is (``fold_records`` reads it)."""
    return entity_type == AUDIT_ENTITY and action in _STATE_ACTIONS


def fold_records(rows: Iterable[tuple[int, str, Any]]) -> RecordedState | None:
    """A secret's state from its state records ``(seq, action, after)`` in chain order."""
    last: tuple[int, int, str | None] | None = None
    highest = 0
    for seq, action, after in rows:
        version = after.get("version") if isinstance(after, dict) else None
        if not isinstance(version, int) or isinstance(version, bool):
            continue
        digest = None if action == "vault.delete" else after.get(DIGEST_KEY)
        if action != "vault.delete" and not isinstance(digest, str):
            continue
        highest = max(highest, version)
        last = (seq, version, digest)
    if last is None:
        return None
    return RecordedState(seq=last[0], version=last[1], digest=last[2], highest=highest)


def check_recorded(state: RecordedState | None, name: str, version: int, ciphertext: bytes) -> None:
    """Refuse a row that is not the version the audit chain recorded last (fail closed)."""
    if state is None:
        raise IntegrityError(
            f"secret {name!r} (version {version}) has no audit record: it was not written "
            "through the vault (or its records were removed); refused — run `ringfence audit "
            "verify`, then store the secret again with `ringfence vault put`"
        )
    if state.deleted:
        raise IntegrityError(
            f"secret {name!r} was deleted (audit record {state.seq}) and a row was put back "
            "outside the vault; refused"
        )
    if version == state.version == state.highest and ciphertext_digest(ciphertext) != state.digest:
        raise IntegrityError(
            f"secret {name!r} (version {version}) is not the ciphertext the audit log recorded "
            f"for that version (record {state.seq}): the row was replaced outside the vault; "
            "refused"
        )
    if version != state.version or version < state.highest:
        raise IntegrityError(
            f"secret {name!r} is at version {version}, but the audit log recorded version "
            f"{state.version} last (record {state.seq}): the row was rolled back or replaced "
            "outside the vault; refused"
        )


@dataclass(frozen=True)
class SecretMetadata:
    """Everything about a secret except the secret."""

    name: str
    version: int
    master_key_id: str
    description: str
    created_at: datetime
    updated_at: datetime
    rewrapped_at: datetime | None


def _aad_key(name: str) -> bytes:
    return b"ringfence/dk/" + name.encode()


def _aad_data(name: str, version: int) -> bytes:
    return b"ringfence/secret/" + name.encode() + b"/" + str(version).encode()


class Vault:
    """Encrypts secrets into the store; decrypts them only for the caller that asks."""

    def __init__(self, store: Store, key_file: Path | None, *, clock: Clock | None = None) -> None:
        self._store = store
        self._key_file = key_file
        self.retired_key_file: Path | None = None  # set by rotate_master: the old key, kept
        self._clock = clock or SystemClock()
        self._keys: dict[str, MasterKey] = {}
        self._active: MasterKey | None = None
        self._chain_keys: audit.AuditKeys | None = None  # checks the state records' links
        self._keyed_scan: tuple[int, int | None] = (0, None)  # (last seq read, first keyed)

    # -- master key handling -------------------------------------------------------------
    def _load_keys(self) -> MasterKey:
        if self._active is not None:
            return self._active
        env = os.environ.get(MASTER_KEY_ENV)
        if env:
            active = MasterKey.from_b64(env, origin=MASTER_KEY_ENV)
        elif self._key_file is not None:
            pending = self._key_file.with_name(self._key_file.name + ".next")
            active = read_key_file(self._key_file)
            if pending.exists():
                # A rotation was interrupted between the commit and the rename; both keys
                # may be in use, so keep both and finish the rename once the rows agree.
                nxt = read_key_file(pending)
                self._keys[nxt.key_id] = nxt
                with _key_file_lock(self._key_file) as locked:
                    # Locked: no rotation is running (its own .next is not a crash's).
                    if locked and pending.exists() and self._all_wrapped_by(nxt.key_id):
                        os.replace(pending, self._key_file)
                        active = nxt
        else:
            raise ConfigError(f"no master key: set {MASTER_KEY_ENV} or a master key file")
        self._keys[active.key_id] = active
        self._active = active
        return active

    def _all_wrapped_by(self, key_id: str) -> bool:
        with self._store.session() as s:
            ids = set(s.scalars(select(VaultSecret.master_key_id)).all())
        return ids <= {key_id} and bool(ids)

    @property
    def master_key_id(self) -> str:
        return self._load_keys().key_id

    def derive_key(self, purpose: bytes, salt: bytes, key_id: str | None = None) -> bytes:
        """A purpose-bound key from the active master key (or the loaded key ``key_id``)."""
        key = self._key_for(key_id) if key_id else self._load_keys()
        return key.derive(purpose, salt)

    def _key_for(self, key_id: str) -> MasterKey:
        self._load_keys()
        key = self._keys.get(key_id)
        if key is None and self._key_file is not None:
            # Another process may have rotated the master key since this one loaded it (a
            # `vault rotate-master` while `serve` runs): read the key file again, keeping the
            # keys already loaded.
            self._active = None
            self._load_keys()
            key = self._keys.get(key_id)
        if key is None:
            raise IntegrityError(
                f"secret wrapped by master key {key_id}, which is not loaded "
                f"(active key is {self.master_key_id})"
            )
        return key

    # -- secrets ---------------------------------------------------------------------------
    def _transaction(self, session: Session | None) -> Any:
        """The caller's transaction (it commits the change with its own), or one of ours."""
        return nullcontext(session) if session is not None else self._store.session()

    def put(
        self,
        name: str,
        value: str | bytes,
        *,
        description: str = "",
        actor: str = "ringfence",
        session: Session | None = None,
    ) -> SecretMetadata:
        """Store or replace a secret and append its audit record in the same transaction;
        returns its metadata (never the value). With ``session`` the change is part of the
        caller's transaction (commits or rolls back with it)."""
        validate_secret_name(name)
        raw = value.encode() if isinstance(value, str) else bytes(value)
        if not raw:
            raise ValidationError(f"secret {name!r} is empty")
        now = self._clock.now()
        with self._transaction(session) as s:
            audit.lock_chain(s)  # first: the one lock order of every writer
            _lock_rows(s)  # a rotation cannot commit between choosing the key and writing
            master = self._wrapping_key(s)
            row = s.scalar(select(VaultSecret).where(VaultSecret.name == name))
            state = recorded_state(s, name)
            # Versions only grow, across a delete too: an older ciphertext (its version is in
            # its associated data) can never be the version the audit log holds.
            version = max(row.version if row else 0, state.highest if state else 0) + 1
            data_key = AESGCM.generate_key(bit_length=256)
            nonce = os.urandom(_NONCE)
            ciphertext = nonce + AESGCM(data_key).encrypt(nonce, raw, _aad_data(name, version))
            wrapped = master.wrap(data_key, _aad_key(name))
            action = "vault.create" if row is None else "vault.update"
            if row is None:
                row = VaultSecret(name=name, created_at=now)
                s.add(row)
            row.version = version
            row.ciphertext = ciphertext
            row.wrapped_key = wrapped
            row.master_key_id = master.key_id
            row.updated_at = now
            if description:
                row.description = description
            s.flush()
            audit.append(
                s,
                actor=actor,
                action=action,
                entity_type=AUDIT_ENTITY,
                entity_id=name,
                after={"name": name, "version": version, DIGEST_KEY: ciphertext_digest(ciphertext)},
                clock=self._clock,
            )
            return _meta(row)

    def _wrapping_key(self, s: Session) -> MasterKey:
        """The key a new data key is wrapped with: the one the stored rows are wrapped with.

        A rotation re-wraps every row in one transaction, so they share a key; when it is not
        the one this process loaded, the key was rotated elsewhere. Wrapping with the stale key
        would leave a row only the retired key opens (lost once that key is put away)."""
        active = self._load_keys()
        other = s.scalar(
            select(VaultSecret.master_key_id)
            .where(VaultSecret.master_key_id != active.key_id)
            .limit(1)
        )
        if other is None:
            return active
        try:
            return self._key_for(other)
        except IntegrityError:
            raise ConfigError(
                f"the vault's secrets are wrapped by master key {other}, which this process "
                f"does not have (it has {active.key_id}): the master key was rotated (restart "
                f"with the new key) or this is not the vault's key (key file or "
                f"{MASTER_KEY_ENV}). Nothing was stored"
            ) from None

    def get(self, name: str) -> SecretStr:
        """Decrypt a secret. The result's repr is masked; call ``get_secret_value()``."""
        with self._store.session() as s:
            row = s.scalar(_SECRET_ROW, {"name": name})
            if row is None:
                raise NotFoundError(f"vault has no secret named {name!r}")
            raw = self._open(
                row.name, row.version, row.master_key_id, row.wrapped_key, row.ciphertext
            )
            state = self._checked_state(s, row.name)
            check_recorded(state, row.name, row.version, row.ciphertext)
        return SecretStr(raw.decode("utf-8", errors="surrogateescape"))

    def _checked_state(self, s: Session, name: str) -> RecordedState | None:
        """The secret's recorded state, from records whose links this vault checked.

        The record the state comes from, and any state record of the secret after it (one
        ``fold_records`` skipped: a newer record edited into a shape that hides it), must
        carry a valid keyed link, or be unkeyed from before the keyed part: a state record
        forged by a database writer without the master key is refused, never relied on."""
        rows = list(s.execute(_STATE_RECORDS, {"name": name}).mappings())
        state = fold_records((r["seq"], r["action"], r["after"]) for r in rows)
        if state is None:
            return None
        for r in rows:
            if r["seq"] < state.seq:
                continue
            keyed_from = self._keyed_from(s) if r["key_id"] is None else None
            problem = audit.record_link_problem(r, self._audit_keys(), keyed_from)
            if problem is not None:
                raise IntegrityError(
                    f"secret {name!r}: audit record {r['seq']}, which records its state, "
                    f"cannot be trusted — {problem}; refused (run `ringfence audit verify`)"
                )
        return state

    def _audit_keys(self) -> audit.AuditKeys:
        if self._chain_keys is None:
            self._chain_keys = audit.MasterKeyAuditKeys(self, key_file=self._key_file)
        return self._chain_keys

    def _keyed_from(self, s: Session) -> int | None:
        """The chain's first keyed record (None: none yet), read from where the last look
        stopped: records are only appended, and the first keyed one never changes."""
        scanned, first = self._keyed_scan
        if first is None:
            first, scanned = audit.first_keyed(s, scanned)
            self._keyed_scan = (scanned, first)
        return first

    def _open(
        self, name: str, version: int, key_id: str, wrapped_key: bytes, ciphertext: bytes
    ) -> bytes:
        key = self._key_for(key_id)
        try:
            data_key = key.unwrap(wrapped_key, _aad_key(name))
            return AESGCM(data_key).decrypt(
                ciphertext[:_NONCE], ciphertext[_NONCE:], _aad_data(name, version)
            )
        except InvalidTag:
            raise IntegrityError(
                f"secret {name!r} failed authentication: wrong master key or tampered row"
            ) from None

    def check_row(
        self, name: str, version: int, key_id: str, wrapped_key: bytes, ciphertext: bytes
    ) -> None:
        """Prove a stored row (e.g. from a backup) decrypts with the loaded keys; the
        plaintext is dropped at once."""
        self._open(name, version, key_id, wrapped_key, ciphertext)

    def bound_to(self, store: Store) -> Vault:
        """The same keys over another store (a restore target)."""
        other = Vault(store, self._key_file, clock=self._clock)
        self._load_keys()
        other._keys = dict(self._keys)
        other._active = self._active
        return other

    def exists(self, name: str) -> bool:
        with self._store.session() as s:
            return s.scalar(select(VaultSecret.id).where(VaultSecret.name == name)) is not None

    def metadata(self, name: str) -> SecretMetadata:
        with self._store.session() as s:
            row = s.scalar(select(VaultSecret).where(VaultSecret.name == name))
            if row is None:
                raise NotFoundError(f"vault has no secret named {name!r}")
            return _meta(row)

    def list(self) -> list[SecretMetadata]:
        with self._store.session() as s:
            return [_meta(r) for r in s.scalars(select(VaultSecret).order_by(VaultSecret.name))]

    def delete(
        self, name: str, *, actor: str = "ringfence", session: Session | None = None
    ) -> None:
        """Delete a secret and append its audit record in the same transaction."""
        with self._transaction(session) as s:
            audit.lock_chain(s)
            _lock_rows(s)
            row = s.scalar(select(VaultSecret).where(VaultSecret.name == name))
            if row is None:
                raise NotFoundError(f"vault has no secret named {name!r}")
            version = row.version
            s.delete(row)
            s.flush()
            audit.append(
                s,
                actor=actor,
                action="vault.delete",
                entity_type=AUDIT_ENTITY,
                entity_id=name,
                after={"name": name, "version": version, "deleted": True},
                clock=self._clock,
            )

    def rotate_master(self, new_key: MasterKey | None = None, *, actor: str = "ringfence") -> int:
        """Re-wrap every data key under a new master key, in one transaction.

        With a key file, the new key is written to ``<file>.next`` first, the rows are
        re-wrapped and committed, then the file is renamed over the old one; a crash at any
        point leaves a key that opens every row. Returns the number of re-wrapped secrets.
        """
        old = self._load_keys()
        env_mode = bool(os.environ.get(MASTER_KEY_ENV))
        if new_key is None:
            if env_mode:
                env_new = os.environ.get(NEW_MASTER_KEY_ENV)
                if not env_new:
                    raise ConfigError(
                        f"master key comes from {MASTER_KEY_ENV}: put the new key in "
                        f"{NEW_MASTER_KEY_ENV} to rotate, then swap the variables"
                    )
                new_key = MasterKey.from_b64(env_new, origin=NEW_MASTER_KEY_ENV)
            else:
                new_key = MasterKey.generate()
        if new_key.key_id == old.key_id:
            raise ValidationError("the new master key is the same as the current one")
        if env_mode or self._key_file is None:
            return self._rotate(old, new_key, None, actor)
        with _key_file_lock(self._key_file) as locked:
            if not locked:
                raise ConflictError(
                    "another master-key rotation is running on this key file; nothing was "
                    "changed: wait for it to finish, then run `vault rotate-master` again if "
                    "still needed"
                )
            return self._rotate(old, new_key, self._key_file, actor)

    def _rotate(self, old: MasterKey, new_key: MasterKey, key_file: Path | None, actor: str) -> int:
        pending: Path | None = None
        if key_file is not None:
            pending = key_file.with_name(key_file.name + ".next")
            if pending.exists():
                # Left by a rotation that crashed: rows may still be wrapped by that key, and
                # this rotation may fail; keep it as a retired key instead of deleting it.
                _retire(key_file, read_key_file(pending), pending)
            write_key_file(pending, new_key)
        now = self._clock.now()
        count = 0
        rows: list[tuple[str, int, bytes]] = []
        try:
            with self._store.session() as s:
                audit.lock_chain(s)
                _lock_rows(s)
                for row in s.scalars(select(VaultSecret).with_for_update()):
                    key = self._key_for(row.master_key_id)
                    try:
                        data_key = key.unwrap(row.wrapped_key, _aad_key(row.name))
                    except InvalidTag:
                        raise IntegrityError(
                            f"secret {row.name!r} failed authentication during rotation; "
                            "nothing was changed"
                        ) from None
                    row.wrapped_key = new_key.wrap(data_key, _aad_key(row.name))
                    row.master_key_id = new_key.key_id
                    row.rewrapped_at = now
                    rows.append((row.name, row.version, bytes(row.ciphertext)))
                    count += 1
                kept = _retired_path(key_file, old) if key_file is not None else None
                audit.append(
                    s,
                    actor=actor,
                    action="vault.rotate_master",
                    entity_type="vault",
                    before={"master_key_id": old.key_id},
                    after={
                        "master_key_id": new_key.key_id,
                        "rewrapped": count,
                        "old_key_kept_at": str(kept) if kept else None,
                    },
                    clock=self._clock,
                )
                new_mac = new_key.derive(audit.AUDIT_KEY_PURPOSE, audit.AUDIT_KEY_SALT)
                if audit.link_rest_with(s, new_key.key_id, new_mac):
                    self._record_again(s, rows, actor)
        except BaseException:
            if pending is not None and pending.exists():
                pending.unlink()
            raise
        self.retired_key_file = None
        if pending is not None and key_file is not None:
            # Backups made until now are sealed with the old key: keep it beside the new one
            # (0600, never overwritten) instead of losing it with the rename; the CLI tells the
            # operator to move it offline with those backups.
            self.retired_key_file = _retire(key_file, old, None)
            os.replace(pending, key_file)
        self._keys = {new_key.key_id: new_key}
        self._active = new_key
        return count

    def _record_again(self, s: Session, rows: Iterable[tuple[str, int, bytes]], actor: str) -> None:
        """Re-record each secret's state (a ``vault.baseline`` record) under the new key, in
        the rotation's transaction after its record: ``get`` checks the record a secret's
        state comes from, and once the old key is put away (an environment key replaced, a
        retired key moved offline) a record linked with it could not be checked. Only a
        state this vault checks is re-recorded (never a forged record or a rolled-back row:
        such a secret stays refused)."""
        for name, version, ciphertext in rows:
            try:
                state = self._checked_state(s, name)
                check_recorded(state, name, version, ciphertext)
            except IntegrityError:
                continue
            assert state is not None and state.digest is not None  # check_recorded passed
            audit.append(
                s,
                actor=actor,
                action="vault.baseline",
                entity_type=AUDIT_ENTITY,
                entity_id=name,
                after={"name": name, "version": state.version, DIGEST_KEY: state.digest},
                clock=self._clock,
            )


def _retired_path(key_file: Path, key: MasterKey) -> Path:
    return key_file.with_name(f"{key_file.name}.retired-{key.key_id}")


def _retire(key_file: Path, key: MasterKey, source: Path | None) -> Path:
    """Keep ``key`` as ``<key file>.retired-<id>`` (0600, never overwritten); ``source``, a
    file holding that key, is moved there or, when the retired file exists, removed."""
    retired = _retired_path(key_file, key)
    if retired.exists():
        if source is not None:
            source.unlink()
    elif source is not None:
        os.replace(source, retired)
    else:
        write_key_file(retired, key)
    return retired


def _meta(row: VaultSecret) -> SecretMetadata:
    return SecretMetadata(
        name=row.name,
        version=row.version,
        master_key_id=row.master_key_id,
        description=row.description,
        created_at=row.created_at,
        updated_at=row.updated_at,
        rewrapped_at=row.rewrapped_at,
    )
