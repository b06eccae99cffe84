"""Tamper-evident control-plane audit log: a keyed hash chain over every change.

Each record's link is an HMAC-SHA256 over its sequence number, content and the previous
record's link, under the *audit key*: a key derived (HKDF, its own ``info``) from the master
key, named in the record by the master key's id. Whoever can write to the database but does
not hold the master key can no longer append a plausible record, edit one and re-link the
rest, or rewrite the chain from some point: ``verify`` with the key names the first record
that does not carry a valid link. Records written before this release (``key_id`` NULL) are
plain SHA-256 links and stay verifiable as such; the first keyed record links to the last of
them, and an unkeyed record after a keyed one is refused by ``verify`` (a downgrade).

What no link can show is a cut-off tail (the newest records deleted, keyed or not): *anchors*
(sequence number + head hash, written outside the database: an append-only file on other
storage, the logs shipped to the SIEM) catch that, and a chain rewritten by someone holding
the master key. ``before``/``after`` pass through secret redaction first: the audit log never
holds a secret, and this module never logs, prints or puts into a message an audit key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson
import structlog
from sqlalchemy import case, func, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from ringfence.core.clock import Clock, SystemClock
from ringfence.core.errors import ConfigError, IntegrityError, ValidationError
from ringfence.core.ids import new_id
from ringfence.core.logging import redact_mapping
from ringfence.store.db import Store
from ringfence.store.models import AuditRecord

if TYPE_CHECKING:
    from ringfence.store.vault import MasterKey, Vault

_log = structlog.get_logger("ringfence.audit")
GENESIS = "0" * 64
_HEAD_KEY = "ringfence.audit.head"
#: HKDF ``info`` and salt of the audit key: no other key derived from the master key (the
#: backups', ``vault.derive_key`` callers') uses them, and the vault's data keys are random.
AUDIT_KEY_PURPOSE = b"ringfence/audit-chain/hmac-sha256/v1"
AUDIT_KEY_SALT = b"ringfence/audit-chain"
_HEX = frozenset("0123456789abcdef")


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NAIVE_UTC)


def compute_hash(
    *,
    seq: int,
    record_id: str,
    ts: datetime,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    prev_hash: str,
    key_id: str | None = None,
    mac_key: bytes | None = None,
) -> str:
    """A record's link: SHA-256 of its canonical body (unkeyed, ``key_id`` None), or
    HMAC-SHA256 under ``mac_key`` of the body that also names ``key_id`` (keyed)."""
    body = {
        "seq": seq,
        "id": record_id,
        "ts": ts.isoformat(),
        "actor": actor,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "before": before,
        "after": after,
        "prev": prev_hash,
    }
    if key_id is None:
        return hashlib.sha256(_canonical(body)).hexdigest()
    if mac_key is None:
        raise ValueError("a keyed record needs its MAC key")
    body["key_id"] = key_id
    return hmac.digest(mac_key, _canonical(body), "sha256").hex()


def _link(row: Mapping[str, Any], mac_key: bytes | None = None) -> str:
    return compute_hash(
        seq=row["seq"],
        record_id=row["id"],
        ts=row["ts"],
        actor=row["actor"],
        action=row["action"],
        entity_type=row["entity_type"],
        entity_id=row["entity_id"],
        before=row["before"],
        after=row["after"],
        prev_hash=row["prev_hash"],
        key_id=row.get("key_id"),
        mac_key=mac_key,
    )


def _row_hash(row: AuditRecord, mac_key: bytes | None = None) -> str:
    return _link(_as_mapping(row), mac_key)


_COLUMNS = (
    "seq",
    "id",
    "ts",
    "actor",
    "action",
    "entity_type",
    "entity_id",
    "before",
    "after",
    "prev_hash",
    "hash",
    "key_id",
)


def _as_mapping(row: AuditRecord) -> dict[str, Any]:
    return {c: getattr(row, c) for c in _COLUMNS}


# -- the audit key ---------------------------------------------------------------------------
class AuditKeys(Protocol):
    """Where the chain's MAC keys come from, by master-key id."""

    def current(self) -> tuple[str, bytes] | None:
        """The key id and MAC key new records are linked with; None: this process has none."""

    def get(self, key_id: str) -> bytes | None:
        """The MAC key of master key ``key_id``; None when it is not available here."""


class MasterKeyAuditKeys:
    """Audit keys derived (HKDF-SHA256, ``AUDIT_KEY_PURPOSE``) from master keys: the vault's
    (the active one links new records), then ``extra`` master keys (an old key given to
    ``audit verify --key-file``), then a retired key kept beside ``key_file`` by a master-key
    rotation (``<key file>.retired-<id>``), so records linked before a rotation stay
    verifiable while that key is kept. Derived keys are cached; none is ever logged."""

    def __init__(
        self,
        vault: Vault | None = None,
        *,
        key_file: Path | None = None,
        extra: Sequence[MasterKey] = (),
    ) -> None:
        self._vault = vault
        self._key_file = key_file
        self._extra = {k.key_id: k for k in extra}
        self._derived: dict[str, bytes] = {}

    def current(self) -> tuple[str, bytes] | None:
        if self._vault is None:
            return None
        try:
            key_id = self._vault.master_key_id
        except ConfigError:  # no master key configured (or unreadable): no audit key
            return None
        mac = self._derived.get(key_id)
        if mac is None:
            mac = self._vault.derive_key(AUDIT_KEY_PURPOSE, AUDIT_KEY_SALT, key_id)
            self._derived[key_id] = mac
        return key_id, mac

    def get(self, key_id: str) -> bytes | None:
        mac = self._derived.get(key_id)
        if mac is not None:
            return mac
        mac = self._find(key_id)
        if mac is not None:
            self._derived[key_id] = mac
        return mac

    def _find(self, key_id: str) -> bytes | None:
        extra = self._extra.get(key_id)
        if extra is not None:
            return extra.derive(AUDIT_KEY_PURPOSE, AUDIT_KEY_SALT)
        if self._vault is not None:
            try:
                return self._vault.derive_key(AUDIT_KEY_PURPOSE, AUDIT_KEY_SALT, key_id)
            except (ConfigError, IntegrityError):  # not loaded in the vault
                pass
        if self._key_file is not None and is_key_id(key_id):
            # The name `Vault.rotate_master` keeps the old key under (vault._retired_path).
            from ringfence.store.vault import read_key_file

            retired = self._key_file.with_name(f"{self._key_file.name}.retired-{key_id}")
            if retired.exists():
                try:
                    key = read_key_file(retired)
                except ConfigError as exc:
                    _log.warning("audit_retired_key_unreadable", file=str(retired), error=str(exc))
                    return None
                if key.key_id == key_id:
                    return key.derive(AUDIT_KEY_PURPOSE, AUDIT_KEY_SALT)
        return None


# The audit keys of each store's engine (set by whoever holds the master key: the runtime, a
# restore), so the many ``append(session, ...)`` callers need not carry a key around.
_KEYS: weakref.WeakKeyDictionary[Engine, AuditKeys] = weakref.WeakKeyDictionary()


def use_keys(store: Store, keys: AuditKeys | None) -> None:
    """Link every record appended through ``store`` with ``keys`` (None: stop)."""
    if keys is None:
        _KEYS.pop(store.engine, None)
    else:
        _KEYS[store.engine] = keys


def keys_of(store: Store) -> AuditKeys | None:
    return _KEYS.get(store.engine)


def _keys_for_session(session: Session) -> AuditKeys | None:
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    return _KEYS.get(engine) if isinstance(engine, Engine) else None


def _jsonable(data: dict[str, Any] | None) -> dict[str, Any] | None:
    if data is None:
        return None
    # Round-trip through JSON so what we hash is exactly what the database gives back.
    cleaned = redact_mapping(data)
    loaded: dict[str, Any] = orjson.loads(_canonical(cleaned))
    return loaded


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    clock: Clock | None = None,
) -> AuditRecord:
    """Append one record in the caller's transaction (it commits or rolls back with it).

    The record is linked with the audit key of the session's store (``use_keys``). Without
    one, it is linked unkeyed only while the chain is (a store from before keyed links);
    once the chain is keyed, an append without the key is refused (``ConfigError``): an
    unkeyed record there is what a forger writes, and ``verify`` would say so.

    The chain head is remembered for the rest of the transaction, so a bulk change (an
    ``apply`` of thousands of entities) reads it once instead of once per record.
    """
    # Begin the transaction first: before its first statement a session has none (None),
    # and a head cached under None would be reused by the next transaction of the session.
    session.connection()
    tx = session.get_transaction()
    cached = session.info.get(_HEAD_KEY)
    if cached is not None and cached[0] is tx:
        seq, prev, mac = cached[1] + 1, cached[2], cached[3]
    else:
        lock_chain(session)
        last = session.execute(
            select(AuditRecord.seq, AuditRecord.hash, AuditRecord.key_id)
            .order_by(AuditRecord.seq.desc())
            .limit(1)
        ).first()
        seq = (last[0] + 1) if last else 1
        prev = last[1] if last else GENESIS
        # The key, like the head, holds for the whole transaction (a rotation's own record
        # is linked with the key it rotates away from).
        keys = _keys_for_session(session)
        mac = keys.current() if keys is not None else None
        if mac is None and last is not None and last[2] is not None:
            raise ConfigError(
                f"the audit chain is keyed (record {last[0]} is linked with master key "
                f"{last[2]}) and this process has no master key to link a new record with: "
                "nothing was changed — configure the master key (key file or "
                "RINGFENCE_MASTER_KEY)",
                code="audit_key_missing",
            )
    ts = (clock or SystemClock()).now().replace(microsecond=0)
    record_id = new_id()
    before_j, after_j = _jsonable(before), _jsonable(after)
    key_id = mac[0] if mac is not None else None
    link = compute_hash(
        seq=seq,
        record_id=record_id,
        ts=ts,
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=before_j,
        after=after_j,
        prev_hash=prev,
        key_id=key_id,
        mac_key=mac[1] if mac is not None else None,
    )
    row = AuditRecord(
        seq=seq,
        id=record_id,
        ts=ts,
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=before_j,
        after=after_j,
        prev_hash=prev,
        hash=link,
        key_id=key_id,
    )
    session.add(row)
    session.info[_HEAD_KEY] = (tx, seq, link, mac)
    return row


def link_rest_with(session: Session, key_id: str, mac_key: bytes) -> bool:
    """Link the records this transaction appends from now on with master key ``key_id``.

    For a master-key rotation only, right after its own record (linked with the old key, it
    names the new one): the vault re-records each secret's state under the new key in the
    same transaction, so ``get`` keeps checking those records once the old key is put away.
    False (nothing changed) when this transaction appended nothing yet or links unkeyed."""
    cached = session.info.get(_HEAD_KEY)
    tx = session.get_transaction()
    if cached is None or cached[0] is not tx or cached[3] is None:
        return False
    session.info[_HEAD_KEY] = (tx, cached[1], cached[2], (key_id, mac_key))
    return True


def record_columns() -> list[Any]:
    """The columns ``record_link_problem`` needs, to ``select`` rows as mappings."""
    return [getattr(AuditRecord, c) for c in _COLUMNS]


def first_keyed(conn: Session | Connection, after: int = 0) -> tuple[int | None, int]:
    """The first keyed record after record ``after`` (None: none) and the last record's seq
    (``after`` when there is none): a caller remembers both and asks again from there only,
    since records are only appended."""
    first, last = conn.execute(
        select(
            func.min(case((AuditRecord.key_id.is_not(None), AuditRecord.seq))),
            func.max(AuditRecord.seq),
        ).where(AuditRecord.seq > after)
    ).one()
    return first, (last if last is not None else after)


def record_link_problem(
    row: Mapping[Any, Any], keys: AuditKeys | None, keyed_from: int | None
) -> str | None:
    """Why one record's link cannot be trusted (None: it can), checked alone — the cheap check
    of a reader that relies on one record (the vault's state of a secret), not ``verify``.

    A keyed record needs a valid MAC under the key it names; an unkeyed one is accepted only
    before the keyed part (``keyed_from``: the chain's first keyed record), as ``verify``
    accepts it. A keyed record whose key is not available here is not trusted."""
    key_id = row["key_id"]
    if key_id is None:
        if keyed_from is not None and row["seq"] > keyed_from:
            return (
                f"it is unkeyed, after the keyed part began (record {keyed_from}): written "
                "without the audit key"
            )
        return None
    key_id = str(key_id)
    if not is_key_id(key_id):
        return "it names no valid master-key id: written without the audit key"
    mac_key = keys.get(key_id) if keys is not None else None
    if mac_key is None:
        return (
            f"it is linked with master key {key_id}, which is not available here (a key "
            f"retired by a rotation: keep it beside the key file as <key file>.retired-{key_id})"
        )
    if not hmac.compare_digest(_link(row, mac_key), str(row["hash"])):
        return (
            f"its content or link does not match its keyed MAC (master key {key_id}): edited "
            "or forged without the key"
        )
    return None


def lock_chain(session: Session) -> None:
    """Take the chain's append lock for the rest of the caller's transaction.

    ``append`` takes it before it reads the head. A writer that takes other locks in the same
    transaction (the vault's) takes this one *first*: every transaction then locks in the same
    order, so two writers can never wait for each other."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # Serialise appenders so two transactions never race for the same head; the lock is
        # held until this transaction ends, which is what makes the head cache safe.
        session.execute(select(_advisory_lock()))
    elif dialect == "sqlite":
        # The same on SQLite: a no-op write takes the database's write lock (pysqlite opens
        # the transaction right before it), so the head read next cannot be stale and a
        # concurrent appender waits (busy_timeout) instead of colliding on `seq`.
        session.execute(text("UPDATE audit_log SET seq = seq WHERE 0"))


def _advisory_lock() -> Any:
    return func.pg_advisory_xact_lock(0x52494E47)  # "RING"


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    record_id: str | None
    problem: str


@dataclass(frozen=True)
class UncheckedRecords:
    """Keyed records whose links could not be checked: their master key is not available."""

    key_id: str
    first: int
    last: int
    count: int


@dataclass(frozen=True)
class VerifyResult:
    records: int
    head: str
    problems: list[ChainProblem]
    #: The first keyed record (None: the chain has none); the records before it are unkeyed
    #: (written before keyed links), checked as plain SHA-256 links.
    keyed_from: int | None = None
    #: Keyed records whose MAC was not checked, per master key (none when ``complete``).
    unchecked: tuple[UncheckedRecords, ...] = ()
    #: Master-key ids whose records were checked with their key.
    keys_checked: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """No record found broken, forged or missing (see ``complete`` for what was checked)."""
        return not self.problems

    @property
    def unkeyed(self) -> int:
        """Records linked without a key (before the keyed part)."""
        return self.records if self.keyed_from is None else self.keyed_from - 1

    @property
    def complete(self) -> bool:
        """``ok``, and every keyed record's link was checked with its key."""
        return self.ok and not self.unchecked

    def coverage(self) -> list[str]:
        """What was and was not checked, one sentence each (for people)."""
        lines: list[str] = []
        if self.records == 0:
            return ["the audit log is empty"]
        if self.keyed_from is None:
            lines.append(
                f"all {self.records} records are unkeyed (SHA-256 links, written before keyed "
                "links or without a master key): anyone with write access to the database "
                "could have rewritten them; only anchors show that"
            )
        elif self.keyed_from > 1:
            lines.append(
                f"records 1..{self.keyed_from - 1} are unkeyed (SHA-256 links from before "
                f"keyed links): only anchors show them rewritten; keyed from record "
                f"{self.keyed_from}"
            )
        else:
            lines.append("every record is keyed")
        if self.keys_checked:
            lines.append("keyed links checked with master key(s) " + ", ".join(self.keys_checked))
        for u in self.unchecked:
            lines.append(
                f"{u.count} keyed record(s) in {u.first}..{u.last} NOT checked: master key "
                f"{u.key_id} is not available here (a record forged there would not be found; "
                "give that key, e.g. `--key-file` with the retired key)"
            )
        return lines


def is_key_id(value: str) -> bool:
    """Whether ``value`` has the shape of a master-key id (16 lower-case hex characters)."""
    return len(value) == 16 and set(value) <= _HEX


def _is_rotation(row: Mapping[str, Any]) -> str | None:
    """The new master-key id a (verified) ``vault.rotate_master`` record announces."""
    if row["action"] != "vault.rotate_master" or row["entity_type"] != "vault":
        return None
    after = row["after"]
    new = after.get("master_key_id") if isinstance(after, dict) else None
    return new if isinstance(new, str) and is_key_id(new) else None


@dataclass
class ChainWalker:
    """Checks records fed in sequence order: numbering, links, keyed MACs, no downgrade.

    ``verify`` and the backups (written and read) share it. A keyed record whose key is not
    available is counted as unchecked — unless a record before it was checked with a key and
    no record introduced its key id (a rotation's record names the new key; ids seen before
    anything could be checked count as known): then it is a record someone without any key
    appended, naming a key nobody has, and a problem, not an unchecked record."""

    keys: AuditKeys | None = None
    wanted: set[int] = field(default_factory=set)  # anchored seqs: remember their hashes
    count: int = 0
    prev: str = GENESIS
    expected_seq: int = 1
    problems: list[ChainProblem] = field(default_factory=list)
    keyed_from: int | None = None
    seen: dict[int, tuple[str, str]] = field(default_factory=dict)  # seq -> (id, hash)
    _macs: dict[str, bytes | None] = field(default_factory=dict)
    _unchecked: dict[str, list[int]] = field(default_factory=dict)  # key -> [first, last, n]
    _checked: list[str] = field(default_factory=list)
    _known: set[str] = field(default_factory=set)
    _verified_any: bool = False

    def _mac_key(self, key_id: str) -> bytes | None:
        if key_id not in self._macs:
            self._macs[key_id] = self.keys.get(key_id) if self.keys is not None else None
        return self._macs[key_id]

    def _problem(self, row: Mapping[str, Any], text_: str) -> None:
        self.problems.append(ChainProblem(row["seq"], row["id"], text_))

    def feed(self, rows: Iterable[Mapping[Any, Any]]) -> None:
        for row in rows:
            self._one(row)

    def _one(self, row: Mapping[Any, Any]) -> None:
        seq = row["seq"]
        self.count += 1
        if seq in self.wanted:
            self.seen[seq] = (row["id"], row["hash"])
        if seq != self.expected_seq:
            self._problem(
                row,
                f"records {self.expected_seq}..{seq - 1} are missing (deleted)"
                if seq > self.expected_seq
                else f"sequence number {seq} out of order",
            )
        if row["prev_hash"] != self.prev:
            self._problem(
                row,
                "previous-hash link broken: a record before it was deleted, inserted or reordered",
            )
        key_id = row.get("key_id")
        if key_id is None:
            if self.keyed_from is not None:
                self._problem(
                    row,
                    f"unkeyed record after the keyed part began (record {self.keyed_from}): "
                    "written without the audit key — forged, or the chain rewritten by "
                    "someone without the master key",
                )
            elif _link(row) != row["hash"]:
                self._problem(row, "content does not match its hash: edited")
        else:
            self._keyed(row, str(key_id))
        self.prev = row["hash"]
        self.expected_seq = seq + 1

    def _keyed(self, row: Mapping[str, Any], key_id: str) -> None:
        if self.keyed_from is None:
            self.keyed_from = row["seq"]
        if key_id not in self._macs and not is_key_id(key_id):
            # Not an id a master key has: never looked up, never shown (it is not ours).
            self._problem(row, "names no valid master-key id: written without the audit key")
            return
        mac_key = self._mac_key(key_id)
        if mac_key is None:
            if self._verified_any and key_id not in self._known:
                self._problem(
                    row,
                    f"linked with master key {key_id}, which no checked record introduced "
                    "(the records before it were checked with a key this process holds): "
                    "appended by someone without the key",
                )
                return
            self._known.add(key_id)
            span = self._unchecked.setdefault(key_id, [row["seq"], row["seq"], 0])
            span[1], span[2] = row["seq"], span[2] + 1
            # A rotation inside an unchecked stretch introduces its key as a checked one does
            # (what follows it is unchecked too, or checked with a key held here).
            self._note_rotation(row)
            return
        if not hmac.compare_digest(_link(row, mac_key), str(row["hash"])):
            self._problem(
                row,
                f"content or link does not match its keyed MAC (master key {key_id}): edited, "
                "re-linked or forged without the key",
            )
            return
        self._verified_any = True
        self._known.add(key_id)
        if key_id not in self._checked:
            self._checked.append(key_id)
        self._note_rotation(row)

    def _note_rotation(self, row: Mapping[str, Any]) -> None:
        announced = _is_rotation(row)
        if announced is not None:
            self._known.add(announced)

    def result(self) -> VerifyResult:
        return VerifyResult(
            records=self.count,
            head=self.prev,
            problems=list(self.problems),
            keyed_from=self.keyed_from,
            unchecked=tuple(
                UncheckedRecords(k, v[0], v[1], v[2]) for k, v in self._unchecked.items()
            ),
            keys_checked=tuple(self._checked),
        )


@dataclass(frozen=True)
class Anchor:
    """A checkpoint of the chain kept outside the database: record ``seq`` had hash ``head``."""

    seq: int
    head: str
    ts: datetime

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "head": self.head, "ts": self.ts.isoformat()}


def current_anchor(store: Store, clock: Clock | None = None) -> Anchor | None:
    """The newest record as an anchor (None while the log is empty)."""
    with store.session() as s:
        last = s.execute(
            select(AuditRecord.seq, AuditRecord.hash).order_by(AuditRecord.seq.desc()).limit(1)
        ).first()
    if last is None:
        return None
    return Anchor(seq=last[0], head=last[1], ts=(clock or SystemClock()).now())


_HEX64 = frozenset("0123456789abcdef")


def parse_anchors(text: str, source: str = "anchors") -> list[Anchor]:
    """Anchors from JSON lines; a bad line is a ``ValidationError`` naming the line."""
    out: list[Anchor] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{source}, line {n}"
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise ValidationError(f"{where}: not a JSON object") from None
        if not isinstance(data, dict):
            raise ValidationError(f"{where}: not a JSON object")
        seq, head, ts = data.get("seq"), data.get("head"), data.get("ts")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise ValidationError(f"{where}: `seq` must be a positive integer")
        if not isinstance(head, str) or len(head) != 64 or not set(head) <= _HEX64:
            raise ValidationError(f"{where}: `head` must be 64 lower-case hex characters")
        try:
            when = datetime.fromisoformat(ts) if isinstance(ts, str) else None
        except ValueError:
            when = None
        if when is None or when.tzinfo is None:
            raise ValidationError(f"{where}: `ts` must be an ISO 8601 time with a zone")
        out.append(Anchor(seq=seq, head=head, ts=when))
    return out


def append_anchor(path: Path, anchor: Anchor) -> None:
    """Append one anchor line (O_APPEND, fsync, file mode 0600 when created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, orjson.dumps(anchor.to_json()) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


class Anchorer:
    """Anchors the chain on a timer (``ringfence serve``): a line per change of the head, in the
    anchor file and in the log (which the organisation ships off the host)."""

    def __init__(self, store: Store, path: Path, clock: Clock | None = None) -> None:
        self._store, self._path, self._clock = store, path, clock
        self._last: tuple[int, str] | None = None
        self._started = False
        #: What the last tick found wrong with the chain (None: nothing), also logged as an
        #: error: the record last anchored is gone (tail cut off) or has another hash.
        self.problem: str | None = None

    def tick(self) -> Anchor | None:
        if not self._started:
            self._started = True
            self._last = self._last_in_file()  # what was anchored before this process
        self._check_last()
        mark = current_anchor(self._store, self._clock)
        if mark is None or (mark.seq, mark.head) == self._last:
            return None
        if self._last is not None and self.problem is None:
            self._check_new(self._last, mark.seq)
        append_anchor(self._path, mark)
        self._last = (mark.seq, mark.head)
        _log.info("audit_anchor", seq=mark.seq, head=mark.head, file=str(self._path))
        return mark

    def _last_in_file(self) -> tuple[int, str] | None:
        try:
            marks = read_anchors(self._path) if self._path.exists() else []
        except ValidationError as exc:
            _log.warning("audit_anchor_file_unreadable", error=str(exc)[:200])
            return None
        return (marks[-1].seq, marks[-1].head) if marks else None

    def _check_last(self) -> None:
        """The record anchored last must still be there with its hash; if not, the newest
        records were deleted or the chain rewritten since — say so at once (an error event the
        SIEM receives), not only at the next ``audit verify``. Anchoring goes on: the earlier
        anchor lines keep the evidence."""
        if self._last is None:
            return
        seq, head = self._last
        with self._store.session() as s:
            found = s.scalar(select(AuditRecord.hash).where(AuditRecord.seq == seq))
        if found == head:
            self.problem = None
            return
        problem = (
            f"audit record {seq}, anchored before, is gone: the newest records were cut off"
            if found is None
            else f"audit record {seq} has another hash than when it was anchored: the chain "
            "was rewritten"
        )
        if problem != self.problem:
            _log.error("audit_chain_tampered", seq=seq, problem=problem, file=str(self._path))
        self.problem = problem

    def _check_new(self, last: tuple[int, str], head_seq: int) -> None:
        """Check the records appended since the last anchor (numbering, links, keyed MACs, no
        downgrade) before anchoring them: a record forged by a database writer without the
        key is an error event the SIEM receives now, not at the next ``audit verify``. They
        are anchored all the same (the anchor says what the database held; verify keeps
        naming the forged record)."""
        seq, head = last
        cols = [getattr(AuditRecord, c) for c in _COLUMNS]
        with self._store.session() as s:
            key_id = s.scalar(select(AuditRecord.key_id).where(AuditRecord.seq == seq))
            walker = ChainWalker(keys=keys_of(self._store))
            walker.prev, walker.expected_seq = head, seq + 1
            if key_id is not None:
                walker.keyed_from = seq  # the keyed part began at or before it
            rows = s.execute(
                select(*cols)
                .where(AuditRecord.seq > seq, AuditRecord.seq <= head_seq)
                .order_by(AuditRecord.seq)
            ).mappings()
            walker.feed(rows)
        if walker.problems:
            first = walker.problems[0]
            self.problem = f"audit record {first.seq}: {first.problem}"
            _log.error(
                "audit_chain_tampered",
                seq=first.seq,
                problem=first.problem,
                problems=len(walker.problems),
                file=str(self._path),
            )

    def _safe_tick(self) -> None:
        try:
            self.tick()
        except Exception as exc:  # a missed anchor must not stop serving; the next one comes
            _log.warning("audit_anchor_failed", error=str(exc)[:200])

    def run(self, interval: float, stop: threading.Event) -> None:
        """Tick now, then every ``interval`` seconds until ``stop`` is set, then once more."""
        self._safe_tick()
        while not stop.wait(interval):
            self._safe_tick()
        self._safe_tick()


def read_anchors(path: Path) -> list[Anchor]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationError(f"anchor file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"anchor file {path} cannot be read: {exc}") from None
    return parse_anchors(text, str(path))


def verify(
    store: Store, anchors: Sequence[Anchor] = (), keys: AuditKeys | None = None
) -> VerifyResult:
    """Walk the chain in sequence order and report every break with the record it is at.

    Keyed links are checked with ``keys`` (default: the store's, ``use_keys``); those whose
    master key is not available are reported as ``unchecked``, never passed as checked.
    With ``anchors``: each anchored record must still be there with the anchored hash — a
    missing one means the newest records were cut off, a different hash that the chain was
    rewritten (re-hashed) from that record or an earlier one."""
    walker = ChainWalker(keys=keys if keys is not None else keys_of(store))
    wanted: dict[int, list[Anchor]] = {}
    for a in anchors:
        wanted.setdefault(a.seq, []).append(a)
    walker.wanted = set(wanted)
    cols = [getattr(AuditRecord, c) for c in _COLUMNS]
    with store.session() as s:
        result = s.execute(select(*cols).order_by(AuditRecord.seq)).yield_per(1000)
        for part in result.mappings().partitions():
            walker.feed(part)
    problems = walker.problems
    seen = walker.seen
    last_seq = walker.expected_seq - 1
    for seq in sorted(wanted):
        for a in wanted[seq]:
            if seq not in seen:
                gone = (
                    f"records {last_seq + 1}..{seq} and any after them are missing (cut off)"
                    if seq > last_seq
                    else f"record {seq} is missing (deleted)"
                )
                problems.append(
                    ChainProblem(seq, None, f"{gone}: the anchor of {a.ts.isoformat()} saw it")
                )
            elif seen[seq][1] != a.head:
                problems.append(
                    ChainProblem(
                        seq,
                        seen[seq][0],
                        f"hash differs from the anchor of {a.ts.isoformat()}: the chain was "
                        "rewritten at or before this record",
                    )
                )
    return walker.result()


def append_standalone(store: Store, **kwargs: Any) -> AuditRecord:
    """Append in a transaction of its own, retrying if another writer took the head."""
    for attempt in range(5):
        try:
            with store.session() as s:
                return append(s, **kwargs)
        except SAIntegrityError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")
