"""Backups of the keyed audit chain: links checked when written, verified and restored; a store
holding a record forged without the key is not backed up; a backup made before keyed links
(no ``key_id`` column) still verifies, its records read as unkeyed."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from ringfence.core.errors import IntegrityError
from ringfence.runtime import Runtime
from ringfence.store import audit
from ringfence.store import backup as bk
from ringfence.store.db import Store
from ringfence.store.models import AuditRecord


def _fill(store: Store, n: int) -> None:
    for i in range(n):
        audit.append_standalone(
            store, actor="t", action="thing.change", entity_type="thing", entity_id=str(i)
        )


def _forge_sha256_append(store: Store) -> None:
    """Direct SQL: a record with a correct SHA-256 link, appended without the key."""
    with store.session() as s:
        head = s.scalar(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1))
        assert head is not None
        seq, prev, ts = head.seq + 1, head.hash, head.ts
    link = audit.compute_hash(
        seq=seq,
        record_id="forged",
        ts=ts,
        actor="cli",
        action="thing.change",
        entity_type="thing",
        entity_id="x",
        before=None,
        after=None,
        prev_hash=prev,
    )
    with store.engine.begin() as conn:
        conn.execute(
            sa.insert(AuditRecord.__table__).values(
                seq=seq,
                id="forged",
                ts=ts,
                actor="cli",
                action="thing.change",
                entity_type="thing",
                entity_id="x",
                prev_hash=prev,
                hash=link,
            )
        )


def test_a_keyed_chain_is_backed_up_verified_and_restored_keyed(
    any_runtime: Runtime, tmp_path: Path
) -> None:
    rt = any_runtime
    _fill(rt.store, 3)
    rt.vault.put("a/b", "value")
    path = tmp_path / "k.rfbak"
    bk.create_backup(rt.store, rt.vault, path)
    report = bk.verify_backup(path, rt.vault)
    assert report.audit_ok and report.audit_chain is not None
    assert report.audit_chain.complete and report.audit_chain.keyed_from == 1
    assert report.audit_chain.keys_checked == (rt.vault.master_key_id,)
    target = Store(f"sqlite:///{tmp_path / 'restored.db'}")
    try:
        restored = bk.restore_backup(path, rt.vault, target, actor="cli")
        assert restored.audit_records == 5  # 3 + the secret's + backup.restored
        with target.session() as s:
            newest = s.scalar(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1))
            assert newest is not None and newest.action == "backup.restored"
            assert newest.key_id == rt.vault.master_key_id
        result = audit.verify(target, keys=audit.MasterKeyAuditKeys(rt.vault))
        assert result.complete and result.keyed_from == 1
    finally:
        audit.use_keys(target, None)
        target.dispose()


def test_a_store_holding_a_record_forged_without_the_key_is_not_backed_up(
    any_runtime: Runtime, tmp_path: Path
) -> None:
    """Before: the forged record (correct SHA-256 link) was backed up as part of an intact
    chain, and restored."""
    rt = any_runtime
    _fill(rt.store, 3)
    _forge_sha256_append(rt.store)
    with pytest.raises(IntegrityError, match=r"first break at record 4"):
        bk.create_backup(rt.store, rt.vault, tmp_path / "f.rfbak")
    assert not (tmp_path / "f.rfbak").exists()


def test_a_backup_made_before_keyed_links_still_verifies(
    any_runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its audit_log has no key_id column: written here as that release wrote it."""
    rt = any_runtime
    real = bk.all_tables()
    old_meta = sa.MetaData()
    old_tables = []
    for t in real:
        cols = [c._copy() for c in t.columns if not (t.name == "audit_log" and c.name == "key_id")]
        old_tables.append(sa.Table(t.name, old_meta, *cols))
    old_audit = next(t for t in old_tables if t.name == "audit_log")
    prev = audit.GENESIS
    from datetime import UTC, datetime

    ts = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    with rt.store.engine.begin() as conn:
        for seq in (1, 2):
            link = audit.compute_hash(
                seq=seq,
                record_id=f"old-{seq}",
                ts=ts,
                actor="cli",
                action="thing.change",
                entity_type="thing",
                entity_id=None,
                before=None,
                after=None,
                prev_hash=prev,
            )
            conn.execute(
                old_audit.insert().values(
                    seq=seq,
                    id=f"old-{seq}",
                    ts=ts,
                    actor="cli",
                    action="thing.change",
                    entity_type="thing",
                    prev_hash=prev,
                    hash=link,
                )
            )
            prev = link
    monkeypatch.setattr(bk, "all_tables", lambda: old_tables)
    path = tmp_path / "old.rfbak"
    bk.create_backup(rt.store, rt.vault, path)
    monkeypatch.setattr(bk, "all_tables", lambda: real)
    report = bk.verify_backup(path, rt.vault)
    assert report.audit_ok and report.audit_records == 2
    assert report.audit_chain is not None and report.audit_chain.keyed_from is None
