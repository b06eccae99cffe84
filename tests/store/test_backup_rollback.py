"""Session 12 backup review: a restore checks the backup against the audit anchors, so an
older backup (or one of another chain) does not silently roll the store back; a backup is
written only when every secret in it opens with the loaded master key."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import inspect, update

from ringfence.cli import main
from ringfence.core.errors import ConflictError, IntegrityError
from ringfence.runtime import Runtime
from ringfence.store import audit
from ringfence.store import backup as bk
from ringfence.store.db import Store
from ringfence.store.models import VaultSecret
from ringfence.store.vault import MasterKey, Vault


def _change(rt: Runtime, what: str) -> None:
    audit.append_standalone(
        rt.store, actor="test", action=what, entity_type="integration", entity_id="crm-sync"
    )


def test_a_backup_older_than_an_anchor_is_refused_unless_the_rollback_is_wanted(
    any_runtime: Runtime, tmp_path: Path
) -> None:
    """Repro: a backup made before an integration was revoked restores into an empty store
    without a word, the revocation (and its audit records) gone; only a later `audit verify`
    against the anchors would show the cut."""
    rt = any_runtime
    rt.vault.put("crm/secret", "alpha")
    _change(rt, "integration.create")
    old = tmp_path / "old.rfbak"
    bk.create_backup(rt.store, rt.vault, old)
    _change(rt, "integration.revoke")
    mark = audit.current_anchor(rt.store)
    assert mark is not None
    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    try:
        with pytest.raises(ConflictError, match=r"older than the store.*not restored") as err:
            bk.restore_backup(old, rt.vault, target, anchors=[mark])
        assert err.value.code == "backup_rollback"
        assert inspect(target.engine).get_table_names() == []  # never touched
        report = bk.restore_backup(old, rt.vault, target, anchors=[mark], allow_rollback=True)
        assert report.rolled_back and f"saw audit record {mark.seq}" in report.rolled_back[0]
    finally:
        target.dispose()


def test_a_backup_that_holds_every_anchored_record_restores(
    any_runtime: Runtime, tmp_path: Path
) -> None:
    rt = any_runtime
    _change(rt, "integration.create")
    first = audit.current_anchor(rt.store)
    _change(rt, "integration.update")
    current = tmp_path / "current.rfbak"
    bk.create_backup(rt.store, rt.vault, current)
    head = audit.current_anchor(rt.store)
    assert first is not None and head is not None
    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    try:
        report = bk.restore_backup(current, rt.vault, target, anchors=[first, head])
    finally:
        target.dispose()
    assert report.anchors_checked == 2 and report.rolled_back == ()


def test_a_backup_of_another_chain_is_refused(any_runtime: Runtime, tmp_path: Path) -> None:
    rt = any_runtime
    _change(rt, "integration.create")
    backup = tmp_path / "b.rfbak"
    bk.create_backup(rt.store, rt.vault, backup)
    mark = audit.current_anchor(rt.store)
    assert mark is not None
    other = audit.Anchor(seq=mark.seq, head="0" * 64, ts=mark.ts)
    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    try:
        with pytest.raises(ConflictError, match="another hash than the anchor"):
            bk.restore_backup(backup, rt.vault, target, anchors=[other])
    finally:
        target.dispose()


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_restore_checks_the_configured_anchor_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "rf"
    _run(["init", "--data-dir", str(data)], capsys)
    old = tmp_path / "old.rfbak"
    code, _, err = _run(["backup", "create", "--out", str(old), "--data-dir", str(data)], capsys)
    assert code == 0, err
    _run(["audit", "anchor", "--data-dir", str(data)], capsys)  # sees `backup.created`
    # The store is lost; the anchor file (kept elsewhere) comes back with the master key.
    fresh = tmp_path / "dr"
    fresh.mkdir(mode=0o700)
    shutil.copy2(data / "master.key", fresh / "master.key")
    shutil.copy2(data / "audit-anchors.jsonl", fresh / "audit-anchors.jsonl")
    code, _, err = _run(["backup", "restore", str(old), "--data-dir", str(fresh)], capsys)
    assert code == 1 and "rolls back" in err and "Traceback" not in err
    code, out, err = _run(
        ["backup", "restore", str(old), "--data-dir", str(fresh), "--allow-rollback", "-o", "json"],
        capsys,
    )
    assert code == 0, err
    body = json.loads(out)
    assert body["restored"] and body["anchors_checked"] == 1 and body["rolled_back"]


def test_a_backup_is_not_written_with_a_master_key_that_does_not_open_the_vault(
    any_runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Repro: the key file (or RINGFENCE_MASTER_KEY) replaced by another key — a botched
    move, the key of another install. `backup create` said 'wrote ... sealed with master key
    <wrong>' every night, and none of those backups could ever be verified or restored: their
    secrets are wrapped by a key they are not sealed with."""
    rt = any_runtime
    rt.vault.put("crm/secret", "alpha")
    monkeypatch.setenv("RINGFENCE_MASTER_KEY", MasterKey.generate().to_b64())
    wrong = Vault(rt.store, None)
    out = tmp_path / "b.rfbak"
    with pytest.raises(IntegrityError, match=r"which is not loaded.*no backup was written"):
        bk.create_backup(rt.store, wrong, out)
    assert not out.exists()


def test_a_backup_is_not_written_over_a_tampered_secret(
    any_runtime: Runtime, tmp_path: Path
) -> None:
    rt = any_runtime
    rt.vault.put("crm/secret", "alpha")
    with rt.store.session() as s:
        s.execute(update(VaultSecret).values(ciphertext=bytes(40)))
    out = tmp_path / "b.rfbak"
    with pytest.raises(IntegrityError, match=r"'crm/secret' failed authentication.*no backup"):
        bk.create_backup(rt.store, rt.vault, out)
    assert not out.exists()


def test_a_backup_swapped_after_its_verification_is_not_loaded(
    any_runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Restore reads the file twice: once to verify it (digests, chain, secrets, anchors),
    once to load it. Whoever could write the backup's directory swapped an older backup in
    between: the anchor check had passed on the other file, the old one was loaded."""
    rt = any_runtime
    _change(rt, "integration.create")
    old = tmp_path / "old.rfbak"
    bk.create_backup(rt.store, rt.vault, old)
    _change(rt, "integration.revoke")
    current = tmp_path / "current.rfbak"
    bk.create_backup(rt.store, rt.vault, current)
    mark = audit.current_anchor(rt.store)
    assert mark is not None
    verify = bk.verify_backup

    def verify_then_swap(*args: object, **kwargs: object) -> bk.VerifyReport:
        report = verify(*args, **kwargs)  # type: ignore[arg-type]
        current.write_bytes(old.read_bytes())
        return report

    monkeypatch.setattr(bk, "verify_backup", verify_then_swap)
    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    try:
        with pytest.raises(IntegrityError, match="changed between its verification and the load"):
            bk.restore_backup(current, rt.vault, target, anchors=[mark])
        assert inspect(target.engine).get_table_names() == []  # left as it was
    finally:
        target.dispose()
