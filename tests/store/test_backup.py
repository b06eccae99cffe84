"""Backups: encrypted, complete, tamper-evident; restore into an empty store on either engine
proves itself (digests, audit chain, secrets)."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import inspect, select

from ringfence.core.errors import ConflictError, IntegrityError, ValidationError
from ringfence.gateway.usage import UsageCounter, record_usage
from ringfence.inventory.estate import apply_estate, load_estate
from ringfence.monitor.parsers import parser_for
from ringfence.monitor.samples import sample
from ringfence.monitor.storage import EventStore
from ringfence.runtime import Runtime
from ringfence.store import audit
from ringfence.store import backup as bk
from ringfence.store.db import Store
from ringfence.store.vault import MasterKey, Vault
from tests.services import postgres_database

EXAMPLE = Path(__file__).parents[2] / "examples" / "estate.yaml"
SECRET = "backup-test-secret-7f3e9a1c52"


def _populate(rt: Runtime) -> None:
    apply_estate(rt.store, load_estate(EXAMPLE), actor="test", clock=rt.clock)
    rt.vault.put("salesforce/client-secret", SECRET)
    rt.vault.put("binary/key", os.urandom(32))
    events = []
    for day in (3, 4, 5):  # three days: three partitions on PostgreSQL
        record = sample("okta", {"published": f"2026-11-0{day}T10:00:00.000Z"})
        record["uuid"] = f"okta-evt-{day}"
        events.extend(parser_for("okta")(record))
    EventStore(rt.store).store_events(events, rt.clock.now())
    counter = UsageCounter()
    counter.add("hubspot-salesforce-sync", ["api"], "sf-api", rt.clock.now())
    record_usage(rt.store, counter.take())


def _snapshot(store: Store) -> dict[str, list[Any]]:
    out = {}
    with store.engine.connect() as conn:
        for t in bk.all_tables():
            order = list(t.primary_key.columns) or list(t.columns)
            out[t.name] = [
                [bk._encode(v) for v in row] for row in conn.execute(select(t).order_by(*order))
            ]
    return out


@pytest.fixture
def populated(any_runtime: Runtime) -> Runtime:
    _populate(any_runtime)
    return any_runtime


def test_backup_restores_every_row_into_a_fresh_store_on_either_engine(
    populated: Runtime, tmp_path: Path
) -> None:
    path = tmp_path / "b" / "one.rfbak"
    report = bk.create_backup(populated.store, populated.vault, path, clock=populated.clock)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    raw = path.read_bytes()
    assert SECRET.encode() not in raw and b"northwind" not in raw.lower()  # sealed
    assert report.tables["integrations"]["rows"] == 39 and report.rows > 300
    checked = bk.verify_backup(path, populated.vault)
    assert checked.audit_ok and checked.secrets == 2 and checked.tables == report.tables
    before = _snapshot(populated.store)
    for engine in ("sqlite", "postgresql"):
        if engine == "sqlite":
            target = Store(f"sqlite:///{tmp_path / 'restored.db'}")
            restored = bk.restore_backup(path, populated.vault, target)
        else:
            with postgres_database() as url:
                target = Store(url)
                restored = bk.restore_backup(path, populated.vault, target)
                after = _snapshot(target)
                assert audit.verify(target).ok
                target.dispose()
        if engine == "sqlite":
            after = _snapshot(target)
            vault = populated.vault.bound_to(target)
            assert vault.get("salesforce/client-secret").get_secret_value() == SECRET
            target.dispose()
        assert restored.tables == report.tables and restored.secrets == 2
        assert after == before, engine


def test_restore_keeps_serial_ids_moving(populated: Runtime, tmp_path: Path) -> None:
    """After explicit ids were loaded, new rows still get fresh ids (PostgreSQL sequences)."""
    path = tmp_path / "b.rfbak"
    bk.create_backup(populated.store, populated.vault, path)
    with postgres_database() as url:
        target = Store(url)
        bk.restore_backup(path, populated.vault, target)
        counter = UsageCounter()
        counter.add("hubspot-salesforce-sync", ["refresh_token"], "sf-api", datetime.now(UTC))
        record_usage(target, counter.take())
        audit.append_standalone(target, actor="t", action="x.y", entity_type="x")
        assert audit.verify(target).ok
        target.dispose()


def test_tampering_truncation_and_wrong_keys_are_refused(
    populated: Runtime, tmp_path: Path
) -> None:
    path = tmp_path / "b.rfbak"
    bk.create_backup(populated.store, populated.vault, path)
    data = path.read_bytes()
    flipped = tmp_path / "flipped.rfbak"
    flipped.write_bytes(data[:-40] + bytes([data[-40] ^ 1]) + data[-39:])
    with pytest.raises(IntegrityError, match="does not decrypt"):
        bk.verify_backup(flipped, populated.vault)
    cut = tmp_path / "cut.rfbak"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(IntegrityError, match="cut off"):
        bk.verify_backup(cut, populated.vault)
    header_edit = tmp_path / "header.rfbak"
    header_edit.write_bytes(data.replace(b'"dialect":"', b'"dialect":"x', 1))
    with pytest.raises((IntegrityError, ValidationError)):
        bk.verify_backup(header_edit, populated.vault)
    not_one = tmp_path / "plain.txt"
    not_one.write_text("hello")
    with pytest.raises(ValidationError, match="not a Ringfence backup"):
        bk.verify_backup(not_one, populated.vault)
    other_key = Vault(populated.store, None)
    os.environ["RINGFENCE_MASTER_KEY"] = base64.b64encode(os.urandom(32)).decode()
    with pytest.raises(IntegrityError, match="sealed with master key"):
        bk.verify_backup(path, other_key)
    # The file is never overwritten.
    with pytest.raises(ConflictError, match="already exists"):
        bk.create_backup(populated.store, populated.vault, path)


def test_restore_refuses_a_store_that_holds_data(populated: Runtime, tmp_path: Path) -> None:
    path = tmp_path / "b.rfbak"
    bk.create_backup(populated.store, populated.vault, path)
    rows = _snapshot(populated.store)
    with pytest.raises(ConflictError, match="already holds data"):
        bk.restore_backup(path, populated.vault, populated.store)
    assert _snapshot(populated.store) == rows  # nothing written


def test_master_key_derivation_is_per_purpose_and_salt() -> None:
    key = MasterKey.generate()
    a = key.derive(b"ringfence-backup-v1", b"s" * 16)
    assert a == key.derive(b"ringfence-backup-v1", b"s" * 16)
    assert a != key.derive(b"ringfence-backup-v1", b"t" * 16)
    assert a != key.derive(b"other", b"s" * 16) and len(a) == 32


def test_a_backup_with_a_broken_audit_chain_is_not_restored(
    populated: Runtime, tmp_path: Path
) -> None:
    from sqlalchemy import update

    from ringfence.store.models import AuditRecord

    with populated.store.session() as s:
        s.execute(update(AuditRecord).where(AuditRecord.seq == 2).values(actor="mallory"))
    path = tmp_path / "b.rfbak"
    # create_backup refuses such a store since session 13: write one as an older release did.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bk, "_refuse_bad_chain", lambda *a: None)
        bk.create_backup(populated.store, populated.vault, path)
    assert not bk.verify_backup(path, populated.vault).audit_ok
    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    with pytest.raises(IntegrityError, match="audit chain"):
        bk.restore_backup(path, populated.vault, target)
    target.dispose()
    assert not (tmp_path / "target.db").exists()  # refused before the target was touched


def _with_header(data: bytes, **changes: Any) -> bytes:
    """The backup with header fields replaced (the frames, bound to the old header, stay)."""
    size = int.from_bytes(data[len(bk.MAGIC) : len(bk.MAGIC) + 4], "big")
    start = len(bk.MAGIC) + 4
    header = {**orjson.loads(data[start : start + size]), **changes}
    raw = orjson.dumps(header)
    return bk.MAGIC + len(raw).to_bytes(4, "big") + raw + data[start + size :]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("revisions", 5),
        ("revisions", "0001"),
        ("revisions", [1, 2]),
        ("revisions", None),
        ("salt", 5),
        ("key_id", None),
        ("created_at", {"a": 1}),
        ("dialect", []),
    ],
)
def test_a_header_field_of_the_wrong_type_is_an_integrity_error_and_touches_nothing(
    populated: Runtime, tmp_path: Path, field: str, value: Any
) -> None:
    path = tmp_path / "b.rfbak"
    bk.create_backup(populated.store, populated.vault, path)
    bad = tmp_path / "bad.rfbak"
    bad.write_bytes(_with_header(path.read_bytes(), **{field: value}))
    with pytest.raises(IntegrityError, match=f"the header's '{field}' is not"):
        bk.verify_backup(bad, populated.vault)
    target_file = tmp_path / "target.db"
    target = Store(f"sqlite:///{target_file}")
    with pytest.raises(IntegrityError, match=f"the header's '{field}' is not"):
        bk.restore_backup(bad, populated.vault, target)
    target.dispose()
    assert not target_file.exists()  # not even created


def test_a_backup_that_does_not_verify_leaves_the_target_untouched(
    populated: Runtime, tmp_path: Path
) -> None:
    path = tmp_path / "b.rfbak"
    bk.create_backup(populated.store, populated.vault, path)
    data = path.read_bytes()
    flipped = tmp_path / "flipped.rfbak"
    flipped.write_bytes(data[:-40] + bytes([data[-40] ^ 1]) + data[-39:])
    edited = tmp_path / "edited.rfbak"  # a well-typed header edit breaks every frame
    edited.write_bytes(_with_header(data, created_at="2001-01-01T00:00:00+00:00"))
    for bad in (flipped, edited):
        target_file = tmp_path / f"{bad.stem}.db"
        target = Store(f"sqlite:///{target_file}")
        with pytest.raises(IntegrityError, match="does not decrypt"):
            bk.restore_backup(bad, populated.vault, target)
        target.dispose()
        assert not target_file.exists()


class _Interrupt(Exception):
    pass


def _interrupt(table: str, rows: int) -> None:
    raise _Interrupt(table)


def test_an_interrupted_restore_leaves_an_uninitialised_target_without_tables(
    populated: Runtime, tmp_path: Path
) -> None:
    path = tmp_path / "b.rfbak"
    bk.create_backup(populated.store, populated.vault, path)
    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    with pytest.raises(_Interrupt):
        bk.restore_backup(path, populated.vault, target, progress=_interrupt)
    with target.engine.connect() as conn:
        assert inspect(conn).get_table_names() == []
    # Nothing is left in the way: the same target takes the restore afterwards.
    assert bk.restore_backup(path, populated.vault, target).secrets == 2
    target.dispose()


def test_an_interrupted_restore_leaves_an_initialised_empty_target_empty(
    populated: Runtime, tmp_path: Path
) -> None:
    path = tmp_path / "b.rfbak"
    bk.create_backup(populated.store, populated.vault, path)
    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    target.migrate()
    with pytest.raises(_Interrupt):
        bk.restore_backup(path, populated.vault, target, progress=_interrupt)
    assert target.is_migrated()
    assert all(not rows for rows in _snapshot(target).values())
    target.dispose()
