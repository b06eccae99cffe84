"""Encrypted, verifiable backups of the whole store, and restore into an empty one.

A backup is one file: a clear header (format, schema revisions, master-key id, salt) and then
a stream of AES-256-GCM frames over zlib-compressed NDJSON — every row of every table, table
by table in foreign-key order, with a row count and SHA-256 per table and a manifest at the end.
Each frame's associated data binds the header digest, the frame's index and whether it is the
last one, so an edited, reordered, removed or cut-off frame fails to decrypt instead of
restoring something else. The key is derived (HKDF) from the vault's master key, which is
never in the backup: keep it separately, or the backup is useless.

Secrets stay what they are in the store: vault ciphertexts, token and password hashes. Values
are written per column type (times as ISO 8601, bytes as base64, enums by name), so a backup
of SQLite restores into PostgreSQL and back. Restore verifies the whole backup and refuses a
target that already holds data or a backup of a different schema before it touches the target,
loads everything in one transaction, then proves the result: row counts and digests per table,
the audit chain (keyed links checked with the master keys at hand, as ``audit verify`` does),
and every vault secret decrypting. A failed restore leaves the target as it was (tables it
created are dropped again).
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import hashlib
import os
import struct
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    LargeBinary,
    Numeric,
    Table,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from ringfence.core.clock import Clock, SystemClock
from ringfence.core.errors import ConflictError, IntegrityError, ValidationError
from ringfence.store import audit
from ringfence.store import vault as vault_mod
from ringfence.store.db import Store
from ringfence.store.models import AuditRecord, VaultSecret
from ringfence.store.vault import Vault

MAGIC = b"RFBAK1\n"
FORMAT = "ringfence-backup"
VERSION = 1
PURPOSE = b"ringfence-backup-v1"
CHUNK = 1 << 20  # plaintext bytes per frame
_NONCE = 12
_BATCH = 1000

Progress = Callable[[str, int], None]  # (table, rows so far)


def all_tables() -> list[Table]:
    """Every table of every capability, parents before children."""
    from ringfence.store.all_models import load_all_models

    return list(load_all_models().sorted_tables)


# -- values ---------------------------------------------------------------------------------
def _kind(col: Column[Any]) -> str:
    t: Any = col.type
    if isinstance(t, TypeDecorator):
        t = t.impl if not isinstance(t.impl, type) else t.impl()
    if isinstance(t, SAEnum):
        return "enum"
    if isinstance(t, DateTime):
        return "datetime"
    if isinstance(t, Date):
        return "date"
    if isinstance(t, LargeBinary):
        return "bytes"
    if isinstance(t, Numeric) and t.asdecimal:
        return "decimal"
    return "plain"


def _encode(value: Any) -> Any:
    if isinstance(value, enum.Enum):  # before str: a StrEnum is a str too
        return value.name
    if value is None or isinstance(value, str | int | float | bool | dict | list):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Decimal):
        return str(value)
    raise ValidationError(f"cannot back up a value of type {type(value).__name__}")


def _decoder(col: Column[Any]) -> Callable[[Any], Any]:
    kind = _kind(col)
    if kind == "enum":
        enum_class = getattr(col.type, "enum_class", None)
        if enum_class is None:
            return lambda v: v
        members = enum_class.__members__

        def decode_enum(v: Any) -> Any:
            if v is None:
                return None
            return members[v] if v in members else enum_class(v)

        return decode_enum
    if kind == "datetime":
        return lambda v: None if v is None else datetime.fromisoformat(v)
    if kind == "date":
        return lambda v: None if v is None else date.fromisoformat(v)
    if kind == "bytes":
        return lambda v: None if v is None else base64.b64decode(v)
    if kind == "decimal":
        return lambda v: None if v is None else Decimal(v)
    return lambda v: v


# -- frames ---------------------------------------------------------------------------------
def _aad(header_digest: bytes, index: int, final: bool) -> bytes:
    return header_digest + struct.pack(">QB", index, 1 if final else 0)


class _SealedWriter:
    """Compress, then encrypt in numbered frames; ``close`` writes the final frame."""

    def __init__(self, fh: IO[bytes], key: bytes, header_digest: bytes) -> None:
        self._fh, self._aead, self._digest = fh, AESGCM(key), header_digest
        self._zip = zlib.compressobj(6)
        self._buf = bytearray()
        self._index = 0
        self.bytes_written = 0

    def write(self, data: bytes) -> None:
        self._buf += self._zip.compress(data)
        while len(self._buf) >= CHUNK:
            self._frame(bytes(self._buf[:CHUNK]), final=False)
            del self._buf[:CHUNK]

    def close(self) -> None:
        self._buf += self._zip.flush()
        while len(self._buf) > CHUNK:
            self._frame(bytes(self._buf[:CHUNK]), final=False)
            del self._buf[:CHUNK]
        self._frame(bytes(self._buf), final=True)

    def _frame(self, plain: bytes, *, final: bool) -> None:
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, plain, _aad(self._digest, self._index, final))
        self._fh.write(struct.pack(">I", len(sealed)) + nonce + sealed)
        self.bytes_written += 4 + _NONCE + len(sealed)
        self._index += 1


def _open_frames(fh: IO[bytes], key: bytes, header_digest: bytes, name: str) -> Iterator[bytes]:
    """Decrypted, decompressed plaintext pieces; raises IntegrityError on any tampering."""
    aead = AESGCM(key)
    unzip = zlib.decompressobj()
    index = 0
    while True:
        size_raw = fh.read(4)
        if len(size_raw) < 4:
            raise IntegrityError(f"{name}: the backup is cut off (no final frame)")
        (size,) = struct.unpack(">I", size_raw)
        if size > CHUNK + 64:
            raise IntegrityError(f"{name}: frame {index} has an impossible size")
        nonce, sealed = fh.read(_NONCE), fh.read(size)
        if len(nonce) < _NONCE or len(sealed) < size:
            raise IntegrityError(f"{name}: the backup is cut off inside frame {index}")
        plain: bytes | None = None
        final = False
        for final in (False, True):
            try:
                plain = aead.decrypt(nonce, sealed, _aad(header_digest, index, final))
                break
            except InvalidTag:
                continue
        if plain is None:
            raise IntegrityError(
                f"{name}: frame {index} does not decrypt: the file was altered, or it was "
                "sealed with another master key"
            )
        try:
            yield unzip.decompress(plain)
            if final:
                yield unzip.flush()
        except zlib.error:
            raise IntegrityError(f"{name}: frame {index} is not valid compressed data") from None
        if final:
            if fh.read(1):
                raise IntegrityError(f"{name}: data after the final frame")
            return
        index += 1


def _lines(pieces: Iterator[bytes]) -> Iterator[bytes]:
    rest = b""
    for piece in pieces:
        rest += piece
        *whole, rest = rest.split(b"\n")
        yield from whole
    if rest:
        yield rest


# -- create -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class BackupReport:
    path: Path
    created_at: datetime
    revisions: tuple[str, ...]
    key_id: str
    tables: dict[str, dict[str, Any]]
    bytes: int

    @property
    def rows(self) -> int:
        return sum(t["rows"] for t in self.tables.values())


def _header(store: Store, vault: Vault, created_at: datetime, salt: bytes) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "created_at": created_at.isoformat(),
        "dialect": store.dialect,
        "revisions": sorted(store.current_revisions()),
        "key_id": vault.master_key_id,
        "salt": base64.b64encode(salt).decode(),
    }


def create_backup(
    store: Store,
    vault: Vault,
    path: Path,
    *,
    clock: Clock | None = None,
    progress: Progress | None = None,
    anchors: Sequence[audit.Anchor] = (),
) -> BackupReport:
    """Write a consistent, encrypted backup of every table to ``path`` (mode 0600, new file).

    One read transaction (REPEATABLE READ on PostgreSQL, a WAL snapshot on SQLite) sees every
    table at the same moment. The audit chain read is verified as it is written, and against
    ``anchors``: a store whose chain is broken, cut off or rewritten is not backed up (restore
    would refuse that backup anyway; better to learn it now than on the day it is needed)."""
    created_at = (clock or SystemClock()).now()
    salt = os.urandom(16)
    header = _header(store, vault, created_at, salt)
    header_raw = orjson.dumps(header, option=orjson.OPT_SORT_KEYS)
    digest = hashlib.sha256(header_raw).digest()
    key = vault.derive_key(PURPOSE, salt)
    keys = audit.keys_of(store) or audit.MasterKeyAuditKeys(vault)
    tables: dict[str, dict[str, Any]] = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConflictError(f"{path} already exists: choose another file") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(MAGIC + struct.pack(">I", len(header_raw)) + header_raw)
            sealed = _SealedWriter(fh, key, digest)
            with store.engine.connect() as conn:
                if store.dialect == "postgresql":
                    conn = conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    if store.dialect == "sqlite":
                        # pysqlite opens no transaction for reads: open one, so the first
                        # read pins a WAL snapshot that every table is then read from.
                        conn.exec_driver_sql("BEGIN")
                        conn.exec_driver_sql("SELECT count(*) FROM sqlite_master")
                    for table in all_tables():
                        check = vault if table.name == VaultSecret.__tablename__ else None
                        chain = (
                            _ChainCheck({a.seq for a in anchors}, keys)
                            if table.name == AuditRecord.__tablename__
                            else None
                        )
                        tables[str(table.name)] = _dump_table(
                            conn, table, sealed, progress, check, chain
                        )
                        if chain is not None:
                            _refuse_bad_chain(chain, anchors)
            sealed.write(orjson.dumps({"t": "manifest", "tables": tables}) + b"\n")
            sealed.close()
            fh.flush()
            os.fsync(fh.fileno())
            size = fh.tell()
    except BaseException:
        path.unlink(missing_ok=True)  # never leave half a backup that looks like one
        raise
    return BackupReport(
        path=path,
        created_at=created_at,
        revisions=tuple(header["revisions"]),
        key_id=header["key_id"],
        tables=tables,
        bytes=size,
    )


def _dump_table(
    conn: Any,
    table: Table,
    out: _SealedWriter,
    progress: Progress | None,
    secrets: Vault | None = None,
    chain: _ChainCheck | None = None,
) -> dict[str, Any]:
    cols = [c.name for c in table.columns]
    out.write(orjson.dumps({"t": "table", "name": table.name, "columns": cols}) + b"\n")
    digest = hashlib.sha256()
    n = 0
    order = list(table.primary_key.columns) or list(table.columns)
    result = conn.execution_options(yield_per=_BATCH).execute(select(table).order_by(*order))
    for row in result:
        if secrets is not None:
            # Every secret must open with the key the backup is sealed with (or another loaded
            # one): a wrong master key would otherwise write a backup nobody can restore.
            try:
                secrets.check_row(
                    row.name, row.version, row.master_key_id, row.wrapped_key, row.ciphertext
                )
                # ... and be the version the audit chain (read in the same snapshot) recorded
                # last: a backup must not carry a rolled-back secret on as if it were current.
                vault_mod.check_recorded(
                    vault_mod.recorded_state(conn, row.name), row.name, row.version, row.ciphertext
                )
            except IntegrityError as exc:
                raise IntegrityError(f"{exc}; no backup was written") from None
        if chain is not None:
            chain.feed([dict(row._mapping)])
        line = orjson.dumps([_encode(v) for v in row], option=orjson.OPT_NON_STR_KEYS) + b"\n"
        digest.update(line)
        out.write(line)
        n += 1
        if progress is not None and n % _BATCH == 0:
            progress(table.name, n)
    if progress is not None:
        progress(table.name, n)
    summary = {"rows": n, "sha256": digest.hexdigest()}
    out.write(orjson.dumps({"t": "end", "name": table.name, **summary}) + b"\n")
    return summary


def _refuse_bad_chain(chain: _ChainCheck, anchors: Sequence[audit.Anchor]) -> None:
    if not chain.ok:
        raise IntegrityError(
            f"the store's audit chain does not verify (first break at record {chain.first_bad}): "
            f"{chain.walker.problems[0].problem}; "
            "no backup was written — run `ringfence audit verify` to see what was changed"
        )
    for a in sorted(anchors, key=lambda a: a.seq):
        if a.seq > chain.count:
            why = f"it ends at record {chain.count}: the newest records were cut off"
        elif chain.seen.get(a.seq) != a.head:
            why = f"record {a.seq} has another hash: the chain was rewritten"
        else:
            continue
        raise IntegrityError(
            f"the store's audit chain does not match the anchor of {a.ts.isoformat()} (record "
            f"{a.seq}); {why}. No backup was written — run `ringfence audit verify`"
        )


# -- read / verify ------------------------------------------------------------------------------
@dataclass
class BackupContents:
    header: dict[str, Any]
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)


# What _header writes, by type: the header is checked before anything trusts it (it is only
# authenticated later, as associated data of every frame).
_HEADER_TEXT = ("created_at", "dialect", "key_id", "salt")


def read_header(fh: IO[bytes], name: str) -> tuple[dict[str, Any], bytes]:
    if fh.read(len(MAGIC)) != MAGIC:
        raise ValidationError(f"{name} is not a Ringfence backup")
    size_raw = fh.read(4)
    if len(size_raw) < 4:
        raise ValidationError(f"{name}: the header is cut off")
    (size,) = struct.unpack(">I", size_raw)
    raw = fh.read(size) if size <= 65536 else b""
    try:
        header = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValidationError(f"{name}: the header is not valid JSON") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValidationError(f"{name}: not a Ringfence backup header")
    if header.get("version") != VERSION:
        raise ValidationError(f"{name}: backup format version {header.get('version')} unknown")
    for key in _HEADER_TEXT:
        if not isinstance(header.get(key), str):
            raise IntegrityError(f"{name}: the header's {key!r} is not text; the file was altered")
    revisions = header.get("revisions")
    if not isinstance(revisions, list) or not all(isinstance(r, str) for r in revisions):
        raise IntegrityError(
            f"{name}: the header's 'revisions' is not a list of revision ids; the file was altered"
        )
    return header, hashlib.sha256(raw).digest()


def _open(path: Path) -> IO[bytes]:
    try:
        return path.open("rb")
    except OSError as exc:
        raise ValidationError(f"{path} cannot be read: {exc.strerror or exc}") from None


RowSink = Callable[[Table, list[dict[str, Any]]], None]


def read_backup(
    path: Path, vault: Vault, *, sink: RowSink | None = None, progress: Progress | None = None
) -> BackupContents:
    """Decrypt and check the whole backup; hand decoded rows to ``sink`` in batches.

    Raises IntegrityError when anything does not add up (frames, per-table counts and
    digests, the manifest), ValidationError when the file is not a backup at all."""
    name = str(path)
    known = {str(t.name): t for t in all_tables()}
    with _open(path) as fh:
        header, digest = read_header(fh, name)
        key_id = str(header.get("key_id", ""))
        try:
            salt = base64.b64decode(str(header.get("salt", "")), validate=True)
            key = vault.derive_key(PURPOSE, salt, key_id)
        except IntegrityError:
            raise IntegrityError(
                f"{name} was sealed with master key {key_id}; the loaded key is "
                f"{vault.master_key_id}: load the master key the backup was made with"
            ) from None
        except ValueError:
            raise ValidationError(f"{name}: the header's salt is not base64") from None
        contents = BackupContents(header=header)
        table: Table | None = None
        decoders: list[Callable[[Any], Any]] = []
        cols: list[str] = []
        running = hashlib.sha256()
        count = 0
        batch: list[dict[str, Any]] = []
        manifest: dict[str, Any] | None = None
        for line in _lines(_open_frames(fh, key, digest, name)):
            if not line:
                continue
            if line[:1] == b"[":
                if table is None:
                    raise IntegrityError(f"{name}: a row outside any table")
                running.update(line + b"\n")
                count += 1
                if sink is not None:
                    values = orjson.loads(line)
                    batch.append({c: d(v) for c, d, v in zip(cols, decoders, values, strict=True)})
                    if len(batch) >= _BATCH:
                        sink(table, batch)
                        batch = []
                if progress is not None and count % _BATCH == 0:
                    progress(table.name, count)
                continue
            mark = orjson.loads(line)
            if mark.get("t") == "table":
                table = known.get(mark["name"])
                if table is None:
                    raise IntegrityError(f"{name}: table {mark['name']!r} is unknown here")
                cols = list(mark["columns"])
                if cols != [c.name for c in table.columns] and not _older_audit_log(table, cols):
                    raise IntegrityError(
                        f"{name}: table {table.name} has other columns here; restore with the "
                        "Ringfence version that made the backup, then upgrade"
                    )
                decoders = [_decoder(table.columns[c]) for c in cols]
                running, count, batch = hashlib.sha256(), 0, []
            elif mark.get("t") == "end":
                if table is None or mark.get("name") != table.name:
                    raise IntegrityError(f"{name}: table markers out of order")
                if batch and sink is not None:
                    sink(table, batch)
                if progress is not None:
                    progress(table.name, count)
                if mark.get("rows") != count or mark.get("sha256") != running.hexdigest():
                    raise IntegrityError(f"{name}: table {table.name} does not match its digest")
                contents.tables[str(table.name)] = {"rows": count, "sha256": running.hexdigest()}
                table, batch = None, []
            elif mark.get("t") == "manifest":
                manifest = mark.get("tables")
            else:
                raise IntegrityError(f"{name}: unexpected record in the backup")
        if manifest != contents.tables:
            raise IntegrityError(f"{name}: the manifest does not match the tables read")
    return contents


def _older_audit_log(table: Table, cols: list[str]) -> bool:
    """The audit log of a backup made before keyed links (revision 0020 added ``key_id``):
    still verifiable, its records read as unkeyed."""
    return table.name == AuditRecord.__tablename__ and cols == [
        c.name for c in table.columns if c.name != "key_id"
    ]


@dataclass(frozen=True)
class VerifyReport:
    header: dict[str, Any]
    tables: dict[str, dict[str, Any]]
    audit_records: int
    audit_ok: bool
    secrets: int
    #: The chain check in full: where the keyed part starts, what could not be checked.
    audit_chain: audit.VerifyResult | None = None
    # What the anchors given to verify_backup say about this backup: each line a record the
    # chain was anchored at that the backup lacks (older: restoring it rolls the store back)
    # or holds with another hash (not the anchored chain). Empty when it is consistent.
    anchor_problems: tuple[str, ...] = ()
    # An anchored record the backup holds with another hash: it is not a backup of this
    # installation's chain (another store's, or one of the two was altered).
    another_chain: bool = False

    @property
    def rows(self) -> int:
        return sum(t["rows"] for t in self.tables.values())


def verify_backup(
    path: Path,
    vault: Vault,
    anchors: Sequence[audit.Anchor] = (),
    keys: audit.AuditKeys | None = None,
) -> VerifyReport:
    """Read everything back: frames, digests, the audit chain inside (keyed links checked
    with ``keys``, default: the vault's master key), every vault secret; with ``anchors``,
    whether the backup's chain holds every anchored record."""
    chain = _ChainCheck({a.seq for a in anchors}, keys or audit.MasterKeyAuditKeys(vault))
    secrets = _SecretCheck(vault, chain)

    def sink(table: Table, rows: list[dict[str, Any]]) -> None:
        if table.name == AuditRecord.__tablename__:
            chain.feed(rows)
        elif table.name == VaultSecret.__tablename__:
            secrets.feed(rows)

    contents = read_backup(path, vault, sink=sink)
    if _anchors_secrets(contents.header["revisions"]):
        secrets.check_recorded()
    return VerifyReport(
        header=contents.header,
        tables=contents.tables,
        audit_records=chain.count,
        audit_ok=chain.ok,
        audit_chain=chain.walker.result(),
        secrets=secrets.count,
        anchor_problems=_anchor_problems(anchors, chain.seen, chain.count),
        another_chain=any(
            a.seq <= chain.count and chain.seen.get(a.seq) != a.head for a in anchors
        ),
    )


def _anchor_problems(
    anchors: Sequence[audit.Anchor], seen: dict[int, str], last_seq: int
) -> tuple[str, ...]:
    problems: list[str] = []
    ahead = [a for a in anchors if a.seq > last_seq]
    if ahead:
        newest = max(ahead, key=lambda a: a.seq)
        problems.append(
            f"the anchor of {newest.ts.isoformat()} saw audit record {newest.seq}, and this "
            f"backup ends at record {last_seq}: it is older than the store it would replace, "
            f"so restoring it rolls back at least {newest.seq - last_seq} audited change(s) "
            "(revocations, deactivations, rotated credentials among them)"
        )
    for a in sorted(anchors, key=lambda a: a.seq):
        if a.seq <= last_seq and seen.get(a.seq) != a.head:
            problems.append(
                f"audit record {a.seq} in this backup has another hash than the anchor of "
                f"{a.ts.isoformat()}: the backup is not of the anchored chain"
            )
            break
    return tuple(problems)


class _ChainCheck:
    """The audit chain of a backup (being written or read), checked as ``audit verify`` does:
    links, keyed MACs with the master keys at hand, no downgrade; plus what the vault check
    needs (each secret's state records)."""

    def __init__(self, wanted: set[int] | None = None, keys: audit.AuditKeys | None = None):
        self.walker = audit.ChainWalker(keys=keys, wanted=set(wanted or ()))
        self.secret_records: dict[str, list[tuple[int, str, Any]]] = {}

    @property
    def count(self) -> int:
        return self.walker.count

    @property
    def ok(self) -> bool:
        return not self.walker.problems

    @property
    def first_bad(self) -> int | None:
        return self.walker.problems[0].seq if self.walker.problems else None

    @property
    def seen(self) -> dict[int, str]:
        """Anchored seq -> the hash the backup holds."""
        return {seq: h for seq, (_id, h) in self.walker.seen.items()}

    def feed(self, rows: list[dict[str, Any]]) -> None:
        for r in rows:
            # A backup made before keyed links (revision < 0020) has no key_id column.
            r.setdefault("key_id", None)
            if vault_mod.is_state_record(r["entity_type"], r["action"]) and r["entity_id"]:
                self.secret_records.setdefault(r["entity_id"], []).append(
                    (r["seq"], r["action"], r["after"])
                )
        self.walker.feed(rows)


class _SecretCheck:
    def __init__(self, vault: Vault, chain: _ChainCheck) -> None:
        self.vault, self.count, self.chain = vault, 0, chain
        self.rows: list[tuple[str, int, bytes]] = []

    def feed(self, rows: list[dict[str, Any]]) -> None:
        for r in rows:
            self.vault.check_row(
                r["name"], r["version"], r["master_key_id"], r["wrapped_key"], r["ciphertext"]
            )
            self.rows.append((r["name"], r["version"], r["ciphertext"]))
            self.count += 1

    def check_recorded(self) -> None:
        """Every secret is the version the backup's own audit chain recorded last (a backup
        whose secret row was rolled back is refused like a tampered one)."""
        for name, version, ciphertext in self.rows:
            state = vault_mod.fold_records(self.chain.secret_records.get(name, []))
            vault_mod.check_recorded(state, name, version, ciphertext)


def _anchors_secrets(revisions: Sequence[str]) -> bool:
    """Whether a backup was made at a schema whose vault anchors every version in the audit
    chain (revision 0018 or later). A revision this release does not know counts as later."""
    from alembic.script import ScriptDirectory
    from alembic.script.revision import ResolutionError
    from alembic.util.exc import CommandError

    from ringfence.store.db import alembic_config

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    for rev in revisions:
        try:
            ancestry = [r.revision for r in script.iterate_revisions(rev, "base")]
        except (CommandError, ResolutionError):
            return True
        if vault_mod.BASELINE_REVISION in ancestry:
            return True
    return False


# -- restore ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RestoreReport:
    created_at: str  # when the restored backup was made (its header)
    tables: dict[str, dict[str, Any]]
    audit_records: int
    secrets: int
    anchors_checked: int = 0
    rolled_back: tuple[str, ...] = ()  # anchor problems accepted with allow_rollback

    @property
    def rows(self) -> int:
        return sum(t["rows"] for t in self.tables.values())


def _table_names(target: Store) -> set[str]:
    with target.engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def _holds_data(target: Store, existing: set[str]) -> list[str]:
    with target.engine.connect() as conn:
        return [
            t.name
            for t in all_tables()
            if t.name in existing and conn.execute(select(func.count()).select_from(t)).scalar_one()
        ]


def _undo(target: Store, existing: set[str]) -> None:
    """Put an (empty or uninitialised) target back as it was. An uninitialised one (no
    ``alembic_version`` before) loses every table this restore created; in one that was
    initialised, the tables are emptied again (they were empty: ``_holds_data`` said so)."""
    fresh = "alembic_version" not in existing
    order = [t.name for t in reversed(all_tables())]  # children before parents
    with target.engine.begin() as conn:
        now = set(inspect(conn).get_table_names())
        for table_name in [n for n in order if n in now] + sorted(now - set(order)):
            if fresh and table_name not in existing:
                cascade = " CASCADE" if target.dialect == "postgresql" else ""
                conn.execute(text(f'DROP TABLE IF EXISTS "{table_name}"{cascade}'))
            elif table_name in order:
                conn.execute(text(f'DELETE FROM "{table_name}"'))


def restore_backup(
    path: Path,
    vault: Vault,
    target: Store,
    *,
    progress: Progress | None = None,
    anchors: Sequence[audit.Anchor] = (),
    allow_rollback: bool = False,
    actor: str | None = None,
    keys: audit.AuditKeys | None = None,
) -> RestoreReport:
    """Load a verified backup into ``target`` (empty or uninitialised) in one transaction.

    With ``actor`` the ``backup.restored`` audit record (the backup's time, rows, anchors
    checked, what was rolled back) is appended to the restored chain in that transaction: no
    restored store — above all no rolled-back one — without the record that says so.

    Everything that can be checked is checked before the target is touched: the header, the
    schema revisions, every frame, digest, the audit chain inside and every secret, that the
    backup's chain holds every record ``anchors`` saw (an older or another backup would roll
    the store back: refused unless ``allow_rollback``), then that the target is empty. A
    restore that fails after that leaves the target as it found it."""
    name = str(path)
    with _open(path) as fh:
        header, _ = read_header(fh, name)
    heads = sorted(target.head_revisions())
    if sorted(header["revisions"]) != heads:
        raise ConflictError(
            f"{name} was made at schema revisions {sorted(header['revisions'])}; this "
            f"Ringfence is at {heads}: restore with the version that made it, then upgrade"
        )
    # A backup whose chain is broken is not restored.
    keys = keys or audit.MasterKeyAuditKeys(vault)
    checked = verify_backup(path, vault, anchors, keys)
    if not checked.audit_ok:
        raise IntegrityError(
            f"{name}: the audit chain inside the backup does not verify; not restored"
        )
    if checked.anchor_problems and not allow_rollback:
        raise ConflictError(
            f"{name}: {checked.anchor_problems[0]}; not restored. If this is the backup to "
            "go back to, restore it with allow_rollback (CLI: --allow-rollback), then start "
            "a new anchor file",
            code="backup_rollback",
        )
    existing = _table_names(target)
    busy = _holds_data(target, existing)
    if busy:
        raise ConflictError(
            f"the target store already holds data (e.g. {', '.join(busy[:3])}): restore only "
            "into a new, empty store"
        )
    try:
        target.migrate()
        record = None
        if actor is not None:
            record = {
                "actor": actor,
                "entity_id": path.name,
                "after": {
                    "backup_created_at": str(header.get("created_at")),
                    "anchors_checked": len(anchors),
                    "rolled_back": list(checked.anchor_problems),
                },
            }
        # The restored store's own records (backup.restored first) are linked with the key.
        audit.use_keys(target, keys)
        report = _load(path, vault, target, header, progress, checked.tables, record, keys)
    except BaseException as exc:
        try:
            _undo(target, existing)
        except Exception as undo_exc:  # the store may be the reason the restore failed
            exc.add_note(f"the target could not be reset ({type(undo_exc).__name__})")
        raise
    return dataclasses.replace(
        report, anchors_checked=len(anchors), rolled_back=checked.anchor_problems
    )


def _load(
    path: Path,
    vault: Vault,
    target: Store,
    header: dict[str, Any],
    progress: Progress | None,
    verified: dict[str, dict[str, Any]],
    record: dict[str, Any] | None = None,
    keys: audit.AuditKeys | None = None,
) -> RestoreReport:
    partitions: set[date] = set()
    with target.engine.begin() as conn:

        def sink(table: Table, rows: list[dict[str, Any]]) -> None:
            if target.dialect == "postgresql" and table.dialect_options["postgresql"].get(
                "partition_by"
            ):
                _ensure_day_partitions(conn, table, rows, partitions)
            conn.execute(table.insert(), rows)

        contents = read_backup(path, vault, sink=sink, progress=progress)
        if contents.tables != verified:
            # The file is read twice (verify, then load): what was loaded must be what was
            # verified, or a file swapped in between would skip the checks (anchors, chain).
            raise IntegrityError(
                f"{path}: the backup changed between its verification and the load; not restored"
            )
        if target.dialect == "postgresql":
            _reset_sequences(conn)
        if record is not None:
            rows = sum(t["rows"] for t in contents.tables.values())
            with Session(bind=conn) as s:  # joins this transaction; commits with it
                audit.append(
                    s,
                    actor=record["actor"],
                    action="backup.restored",
                    entity_type="backup",
                    entity_id=record["entity_id"],
                    after={**record["after"], "rows": rows},
                )
                s.flush()
    added = {AuditRecord.__tablename__: 1} if record is not None else {}
    chain = audit.verify(target, keys=keys)
    if not chain.ok:
        raise IntegrityError(f"restored audit chain does not verify: {chain.problems[0].problem}")
    with target.engine.connect() as conn:
        for t in all_tables():
            got = conn.execute(select(func.count()).select_from(t)).scalar_one()
            if got != contents.tables.get(t.name, {}).get("rows", 0) + added.get(t.name, 0):
                raise IntegrityError(f"restored table {t.name} has {got} rows, expected more")
    restored_vault = vault.bound_to(target)
    count = 0
    for meta in restored_vault.list():
        restored_vault.get(meta.name)  # decrypts (and authenticates) every secret
        count += 1
    return RestoreReport(
        created_at=str(header.get("created_at")),
        tables=contents.tables,
        audit_records=chain.records,
        secrets=count,
    )


def _ensure_day_partitions(
    conn: Any, table: Table, rows: list[dict[str, Any]], done: set[date]
) -> None:
    from ringfence.monitor.storage import partition_name

    for day in sorted({r["ts"].date() for r in rows if r.get("ts") is not None} - done):
        nxt = date.fromordinal(day.toordinal() + 1)
        conn.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF {table.name} "
                f"FOR VALUES FROM ('{day.isoformat()} 00:00:00+00') "
                f"TO ('{nxt.isoformat()} 00:00:00+00')"
            )
        )
        done.add(day)


def _reset_sequences(conn: Any) -> None:
    """Explicit ids were inserted: move each serial sequence past the largest one."""
    for table in all_tables():
        for col in table.primary_key.columns:
            if col.autoincrement is True or (
                col.autoincrement == "auto" and col.type.python_type is int
            ):
                seq = conn.execute(
                    text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": col.name}
                ).scalar()
                if seq:
                    conn.execute(
                        text(
                            f"SELECT setval(:s, COALESCE((SELECT MAX({col.name}) FROM "
                            f"{table.name}), 0) + 1, false)"
                        ),
                        {"s": seq},
                    )
