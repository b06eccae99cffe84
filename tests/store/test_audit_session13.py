"""Session 13 review of backup + audit: a store whose chain is broken, cut off or rewritten is
not backed up, and the anchorer of `serve` notices a cut-off tail when it happens."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update

from ringfence.cli import main
from ringfence.core.clock import FixedClock
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


def _cut_newest(store: Store) -> None:
    with store.session() as s:
        newest = s.scalar(select(func.max(AuditRecord.seq)))
        s.execute(delete(AuditRecord).where(AuditRecord.seq == newest))


def test_a_store_whose_newest_records_were_cut_off_is_not_backed_up(
    any_runtime: Runtime, tmp_path: Path
) -> None:
    """Before: the backup was written; the cut-off tail was noticed only when a restore
    compared it with the anchors (refused as a rollback) — on the day it was needed."""
    rt = any_runtime
    _fill(rt.store, 3)
    mark = audit.current_anchor(rt.store)
    assert mark is not None
    bk.create_backup(rt.store, rt.vault, tmp_path / "ok.rfbak", anchors=[mark])
    _cut_newest(rt.store)
    with pytest.raises(IntegrityError, match="cut off"):
        bk.create_backup(rt.store, rt.vault, tmp_path / "cut.rfbak", anchors=[mark])
    assert not (tmp_path / "cut.rfbak").exists()


def test_a_store_whose_chain_was_rewritten_or_edited_is_not_backed_up(
    any_runtime: Runtime, tmp_path: Path
) -> None:
    rt = any_runtime
    _fill(rt.store, 3)
    mark = audit.current_anchor(rt.store)
    assert mark is not None
    _cut_newest(rt.store)
    _fill(rt.store, 1)  # a fresh, valid record where the anchored one was
    with pytest.raises(IntegrityError, match="rewritten"):
        bk.create_backup(rt.store, rt.vault, tmp_path / "a.rfbak", anchors=[mark])
    with rt.store.session() as s:
        s.execute(update(AuditRecord).where(AuditRecord.seq == 2).values(actor="mallory"))
    with pytest.raises(IntegrityError, match=r"does not verify \(first break at record 2\)"):
        bk.create_backup(rt.store, rt.vault, tmp_path / "b.rfbak")
    assert not list(tmp_path.glob("*.rfbak"))


def test_backup_create_checks_the_configured_anchor_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = str(tmp_path / "rf")
    monkeypatch.setenv("CRM_SECRET", "value-of-the-crm-secret")
    for argv in (
        ["init", "--data-dir", data],
        ["vault", "put", "crm/a", "--from-env", "CRM_SECRET", "--data-dir", data],
        ["vault", "put", "crm/b", "--from-env", "CRM_SECRET", "--data-dir", data],
        ["audit", "anchor", "--data-dir", data],
    ):
        try:
            main(argv)
        except SystemExit as exc:
            assert not exc.code, argv
    store = Store(f"sqlite:///{tmp_path / 'rf' / 'ringfence.db'}")
    _cut_newest(store)
    store.dispose()
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(["backup", "create", "--data-dir", data, "--out", str(tmp_path / "x.rfbak")])
    assert exited.value.code == 1
    assert "cut off" in capsys.readouterr().err
    assert not (tmp_path / "x.rfbak").exists()


def test_the_anchorer_notices_a_cut_off_tail_also_after_a_restart(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "anchors.jsonl"
    anchorer = audit.Anchorer(store, path, FixedClock())
    _fill(store, 3)
    assert anchorer.tick() is not None and anchorer.problem is None
    _cut_newest(store)
    anchorer.tick()
    assert anchorer.problem is not None and "record 3" in anchorer.problem
    assert "cut off" in anchorer.problem
    # A process started later reads what was anchored before it (the file's last line).
    _fill(store, 1)  # a new record 3 with another hash
    fresh = audit.Anchorer(store, path, FixedClock())
    fresh.tick()
    assert fresh.problem is None  # the first anchorer anchored the cut chain at seq 2 ...
    assert not audit.verify(store, audit.read_anchors(path)).ok  # ... the file keeps seq 3
    restarted = audit.Anchorer(store, tmp_path / "other.jsonl", FixedClock())
    restarted.tick()
    _cut_newest(store)
    again = audit.Anchorer(store, tmp_path / "other.jsonl", FixedClock())
    again.tick()
    assert again.problem is not None and "cut off" in again.problem


def _run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_backup_verify_fails_a_backup_of_another_chain_and_does_not_count_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`backup verify` read no anchors: a backup whose chain contradicts this installation's
    anchors was reported good and recorded as backup.verified (RF-IRR-003 counts those)."""
    data = str(tmp_path / "rf")
    monkeypatch.setenv("CRM_SECRET", "value-of-the-crm-secret")
    assert _run(["init", "--data-dir", data]) == 0
    assert _run(["vault", "put", "crm/a", "--from-env", "CRM_SECRET", "--data-dir", data]) == 0
    backup = tmp_path / "b.rfbak"
    assert _run(["backup", "create", "--data-dir", data, "--out", str(backup)]) == 0
    anchors = tmp_path / "rf" / "audit-anchors.jsonl"
    # An anchor of record 1 with another hash: the backup is not of this chain.
    anchors.write_text(
        '{"seq": 1, "head": "' + "ab" * 32 + '", "ts": "2026-01-01T00:00:00+00:00"}\n'
    )
    capsys.readouterr()
    assert _run(["backup", "verify", str(backup), "--data-dir", data]) == 1
    assert "not this installation's chain" in capsys.readouterr().err
    store = Store(f"sqlite:///{tmp_path / 'rf' / 'ringfence.db'}")
    with store.session() as s:
        actions = list(s.scalars(select(AuditRecord.action)))
    store.dispose()
    assert "backup.verified" not in actions
    # Only older than the anchors (the store moved on): good, with a note.
    anchors.write_text(
        '{"seq": 99, "head": "' + "cd" * 32 + '", "ts": "2026-01-01T00:00:00+00:00"}\n'
    )
    assert _run(["backup", "verify", str(backup), "--data-dir", data]) == 0
    assert "note:" in capsys.readouterr().err


def test_after_a_wanted_rollback_restore_the_store_can_be_verified_and_backed_up_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restore with --allow-rollback into the configured store left the anchors of the
    replaced chain in place: `audit verify` and (since this session) `backup create` then
    refused the store until someone moved the file by hand."""
    data = tmp_path / "rf"
    monkeypatch.setenv("CRM_SECRET", "value-of-the-crm-secret")
    assert _run(["init", "--data-dir", str(data)]) == 0
    old = tmp_path / "old.rfbak"
    assert _run(["backup", "create", "--data-dir", str(data), "--out", str(old)]) == 0
    assert _run(["vault", "put", "crm/a", "--from-env", "CRM_SECRET", "--data-dir", str(data)]) == 0
    assert _run(["audit", "anchor", "--data-dir", str(data)]) == 0
    (data / "ringfence.db").unlink()  # the store is lost; the key and the anchors are kept
    for extra in ("ringfence.db-wal", "ringfence.db-shm"):
        (data / extra).unlink(missing_ok=True)
    argv = ["backup", "restore", str(old), "--data-dir", str(data), "--allow-rollback"]
    assert _run(argv) == 0
    err = capsys.readouterr().err
    assert "moved to" in err
    kept = list(data.glob("audit-anchors.jsonl.before-restore-*"))
    assert len(kept) == 1
    assert _run(["audit", "verify", "--data-dir", str(data)]) == 0
    again = tmp_path / "again.rfbak"
    assert _run(["backup", "create", "--data-dir", str(data), "--out", str(again)]) == 0


def test_an_api_token_and_its_audit_record_commit_together(
    any_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ringfence token create` issued the token, then appended its record in a second
    transaction: a failure between the two left a working credential nobody had recorded."""
    from ringfence.store.apitokens import ApiTokens
    from ringfence.store.models import ApiToken

    rt = any_runtime
    tokens = ApiTokens(rt.store, rt.clock)

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("audit down")

    monkeypatch.setattr(audit, "append", broken)
    with pytest.raises(RuntimeError):
        tokens.issue("ci", ["read"], actor="cli")
    monkeypatch.undo()
    with rt.store.session() as s:
        assert s.scalar(select(func.count()).select_from(ApiToken)) == 0
    issued = tokens.issue("ci", ["read"], actor="cli")
    tokens.revoke(issued.id, actor="cli")
    with rt.store.session() as s:
        rows = list(
            s.scalars(
                select(AuditRecord)
                .where(AuditRecord.entity_id == issued.id)
                .order_by(AuditRecord.seq)
            )
        )
    assert [r.action for r in rows] == ["api_token.create", "api_token.revoke"]
    assert issued.token.get_secret_value() not in str([r.after for r in rows])


def test_a_restore_and_its_audit_record_commit_together(
    any_runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`backup restore` loaded the store in one transaction and appended backup.restored in a
    second: a crash between left a restored (perhaps rolled-back) store with no record of it."""
    rt = any_runtime
    rt.vault.put("crm/token", "value-1")
    backup = tmp_path / "b.rfbak"
    bk.create_backup(rt.store, rt.vault, backup)

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("audit down")

    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    try:
        monkeypatch.setattr(audit, "append", broken)
        with pytest.raises(RuntimeError):
            bk.restore_backup(backup, rt.vault, target, actor="cli")
        monkeypatch.undo()
        assert not (tmp_path / "target.db").exists() or not bk._holds_data(
            target, bk._table_names(target)
        )
        report = bk.restore_backup(backup, rt.vault, target, actor="cli")
        with target.session() as s:
            last = s.scalar(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1))
        assert last is not None and last.action == "backup.restored" and last.actor == "cli"
        assert last.after is not None and last.after["rows"] == report.rows
        assert audit.verify(target).ok
        assert rt.vault.bound_to(target).get("crm/token").get_secret_value() == "value-1"
    finally:
        target.dispose()
