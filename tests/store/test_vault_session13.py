"""Session 13 vault review: a secret change and its audit record are one transaction, and a
secret row rolled back by someone with write access to the database is refused."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import delete, insert, select, update

from ringfence.cli import main
from ringfence.core.errors import IntegrityError
from ringfence.runtime import Runtime
from ringfence.store import audit
from ringfence.store import backup as bk
from ringfence.store import vault as vault_mod
from ringfence.store.db import Store, alembic_config
from ringfence.store.models import AuditRecord, VaultSecret
from ringfence.store.vault import DIGEST_KEY, MasterKey, Vault, ciphertext_digest

OLD = "revoked-credential-value-1a2b3c"
NEW = "current-credential-value-4d5e6f"


def _records(rt: Runtime, name: str) -> list[AuditRecord]:
    with rt.store.session() as s:
        return list(
            s.scalars(
                select(AuditRecord)
                .where(AuditRecord.entity_id == name, AuditRecord.entity_type == "vault_secret")
                .order_by(AuditRecord.seq)
            )
        )


def _row(rt: Runtime, name: str) -> dict[str, Any]:
    with rt.store.session() as s:
        row = s.scalar(select(VaultSecret).where(VaultSecret.name == name))
        assert row is not None
        return {
            "version": row.version,
            "ciphertext": row.ciphertext,
            "wrapped_key": row.wrapped_key,
        }


class AuditDown(RuntimeError):
    pass


def _failing_append(*_args: Any, **_kwargs: Any) -> Any:
    raise AuditDown("the audit record could not be written")


# -- gap 1: the change and its record commit together ---------------------------------------
def test_a_put_writes_its_audit_record_with_the_version_and_ciphertext_digest(
    any_runtime: Runtime,
) -> None:
    rt = any_runtime
    rt.vault.put("crm/token", OLD, actor="user:alice")
    meta = rt.vault.put("crm/token", NEW, actor="user:alice")
    records = _records(rt, "crm/token")
    assert [r.action for r in records] == ["vault.create", "vault.update"]
    assert records[-1].actor == "user:alice"
    assert records[-1].after == {
        "name": "crm/token",
        "version": meta.version,
        DIGEST_KEY: ciphertext_digest(_row(rt, "crm/token")["ciphertext"]),
    }
    assert OLD not in str(records) and NEW not in str([r.after for r in records])
    assert audit.verify(rt.store).ok


def test_a_put_whose_audit_record_fails_changes_nothing(
    any_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the vault committed the new secret, then the caller appended the record in a
    transaction of its own — a crash or a store error between the two left a secret changed
    with no audit record."""
    rt = any_runtime
    rt.vault.put("crm/token", OLD)
    monkeypatch.setattr(audit, "append", _failing_append)
    with pytest.raises(AuditDown):
        rt.vault.put("crm/token", NEW)
    monkeypatch.undo()
    assert rt.vault.get("crm/token").get_secret_value() == OLD
    assert rt.vault.metadata("crm/token").version == 1


def test_a_delete_whose_audit_record_fails_deletes_nothing(
    any_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = any_runtime
    rt.vault.put("crm/token", OLD)
    monkeypatch.setattr(audit, "append", _failing_append)
    with pytest.raises(AuditDown):
        rt.vault.delete("crm/token")
    monkeypatch.undo()
    assert rt.vault.exists("crm/token")
    rt.vault.delete("crm/token", actor="cli")
    assert [r.action for r in _records(rt, "crm/token")][-1] == "vault.delete"


def test_a_master_key_rotation_whose_audit_record_fails_rewraps_nothing(
    any_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = any_runtime
    rt.vault.put("crm/token", OLD)
    old_id = rt.vault.master_key_id
    monkeypatch.setattr(audit, "append", _failing_append)
    monkeypatch.setenv("RINGFENCE_NEW_MASTER_KEY", "A" * 43 + "=")
    with pytest.raises(AuditDown):
        rt.vault.rotate_master()
    monkeypatch.undo()
    assert rt.vault.metadata("crm/token").master_key_id == old_id


def test_the_cli_put_is_audited_once_and_not_at_all_when_the_record_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = str(tmp_path / "rf")
    main_ok(["init", "--data-dir", data])
    monkeypatch.setenv("CRM_SECRET", OLD)
    main_ok(["vault", "put", "crm/token", "--from-env", "CRM_SECRET", "--data-dir", data])
    monkeypatch.setattr(audit, "append", _failing_append)
    monkeypatch.setenv("CRM_SECRET", NEW)
    with pytest.raises(SystemExit):  # "internal error (AuditDown)", exit 1
        main(["vault", "put", "crm/token", "--from-env", "CRM_SECRET", "--data-dir", data])
    monkeypatch.undo()
    capsys.readouterr()
    store = Store(f"sqlite:///{tmp_path / 'rf' / 'ringfence.db'}")
    try:
        vault = Vault(store, tmp_path / "rf" / "master.key")
        assert vault.get("crm/token").get_secret_value() == OLD
        with store.session() as s:
            actions = list(s.scalars(select(AuditRecord.action).order_by(AuditRecord.seq)))
        assert actions.count("vault.create") == 1 and "vault.update" not in actions
    finally:
        store.dispose()


def main_ok(argv: list[str]) -> None:
    try:
        main(argv)
    except SystemExit as exc:
        assert not exc.code, argv


def test_concurrent_writers_neither_deadlock_nor_lose_a_record(any_runtime: Runtime) -> None:
    """Vault writers (own transaction, and inside a caller's transaction that appended its own
    record first) and plain audit appenders at once, each with its own engine (as separate
    processes would be): every change committed with its record, the chain intact."""
    rt = any_runtime
    errors: list[BaseException] = []
    rounds = 6

    def vault_writer(n: int) -> None:
        store = Store(rt.store.url)
        try:
            vault = rt.vault.bound_to(store)
            for i in range(rounds):
                vault.put(f"w{n}/secret", f"value-{n}-{i}", actor=f"writer:{n}")
                vault.put("shared/secret", f"shared-{n}-{i}", actor=f"writer:{n}")
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.dispose()

    def caller_transaction_writer() -> None:
        store = Store(rt.store.url)
        try:
            vault = rt.vault.bound_to(store)
            for i in range(rounds):
                with store.session() as s:
                    audit.append(s, actor="caller", action="thing.change", entity_type="thing")
                    vault.put("shared/secret", f"caller-{i}", actor="caller", session=s)
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.dispose()

    def appender() -> None:
        store = Store(rt.store.url)
        try:
            for _ in range(rounds * 2):
                audit.append_standalone(store, actor="x", action="other.change", entity_type="x")
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.dispose()

    threads = [threading.Thread(target=vault_writer, args=(n,)) for n in range(2)]
    threads += [
        threading.Thread(target=caller_transaction_writer),
        threading.Thread(target=appender),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a writer is stuck (deadlock)"
    assert not errors, errors
    assert audit.verify(rt.store).ok
    shared = [r for r in _records(rt, "shared/secret") if r.action.startswith("vault.")]
    assert len(shared) == rounds * 3
    assert [r.after["version"] for r in shared] == list(range(1, rounds * 3 + 1))
    rt.vault.get("shared/secret")  # the newest row is the newest record
    for n in range(2):
        assert rt.vault.get(f"w{n}/secret").get_secret_value() == f"value-{n}-{rounds - 1}"


# -- gap 2: a rolled-back row is refused ----------------------------------------------------
def test_a_secret_row_rolled_back_to_an_older_ciphertext_is_refused(any_runtime: Runtime) -> None:
    """Someone with write access to the database puts the revoked credential's row back:
    its ciphertext is authentic (same name, its own version), so it decrypted."""
    rt = any_runtime
    rt.vault.put("crm/token", OLD)
    old_row = _row(rt, "crm/token")
    rt.vault.put("crm/token", NEW)
    with rt.store.session() as s:
        s.execute(update(VaultSecret).where(VaultSecret.name == "crm/token").values(**old_row))
    with pytest.raises(IntegrityError, match="rolled back") as caught:
        rt.vault.get("crm/token")
    assert OLD not in str(caught.value)


def test_a_deleted_secret_put_back_in_the_database_is_refused(any_runtime: Runtime) -> None:
    rt = any_runtime
    rt.vault.put("crm/token", OLD)
    with rt.store.session() as s:
        row = s.scalar(select(VaultSecret).where(VaultSecret.name == "crm/token"))
        assert row is not None
        saved = {c.name: getattr(row, c.name) for c in VaultSecret.__table__.columns}
    rt.vault.delete("crm/token")
    with rt.store.session() as s:
        s.execute(insert(VaultSecret).values(**saved))
    with pytest.raises(IntegrityError, match="was deleted"):
        rt.vault.get("crm/token")


def test_versions_keep_growing_across_a_delete_so_an_old_row_never_matches(
    any_runtime: Runtime,
) -> None:
    rt = any_runtime
    rt.vault.put("crm/token", OLD)
    first = _row(rt, "crm/token")
    rt.vault.delete("crm/token")
    assert rt.vault.put("crm/token", NEW).version == 2
    with rt.store.session() as s:
        s.execute(update(VaultSecret).where(VaultSecret.name == "crm/token").values(**first))
    with pytest.raises(IntegrityError, match="rolled back"):
        rt.vault.get("crm/token")


def test_a_forged_newer_record_of_an_older_version_does_not_make_a_rollback_pass(
    any_runtime: Runtime,
) -> None:
    """The chain has no key: a database writer can append a valid record. One that names the
    old version again does not help: the versions recorded before it were higher."""
    rt = any_runtime
    rt.vault.put("crm/token", OLD)
    old_row = _row(rt, "crm/token")
    rt.vault.put("crm/token", NEW)
    with rt.store.session() as s:
        s.execute(update(VaultSecret).where(VaultSecret.name == "crm/token").values(**old_row))
        audit.append(
            s,
            actor="cli",
            action="vault.update",
            entity_type="vault_secret",
            entity_id="crm/token",
            after={
                "name": "crm/token",
                "version": 1,
                DIGEST_KEY: ciphertext_digest(old_row["ciphertext"]),
            },
        )
    with pytest.raises(IntegrityError, match="rolled back"):
        rt.vault.get("crm/token")


def test_a_row_written_outside_the_vault_is_refused(any_runtime: Runtime) -> None:
    rt = any_runtime
    rt.vault.put("crm/token", OLD)
    with rt.store.session() as s:
        s.execute(delete(AuditRecord).where(AuditRecord.entity_id == "crm/token"))
    with pytest.raises(IntegrityError, match="no audit record"):
        rt.vault.get("crm/token")


def test_rotate_master_keeps_every_secret_opening_and_is_audited(any_runtime: Runtime) -> None:
    rt = any_runtime
    rt.vault.put("crm/token", OLD)
    rt.vault.put("crm/token", NEW)
    rt.vault.rotate_master(MasterKey.generate())
    assert rt.vault.get("crm/token").get_secret_value() == NEW
    with rt.store.session() as s:
        # the rotation's record, then the secret's state re-recorded under the new key
        last = s.scalar(
            select(AuditRecord).where(AuditRecord.action == "vault.rotate_master").limit(1)
        )
    assert last is not None and last.action == "vault.rotate_master"
    assert last.after is not None and last.after["rewrapped"] == 1


def test_a_backup_is_not_written_over_a_rolled_back_secret(
    any_runtime: Runtime, tmp_path: Path
) -> None:
    rt = any_runtime
    rt.vault.put("crm/token", OLD)
    old_row = _row(rt, "crm/token")
    rt.vault.put("crm/token", NEW)
    with rt.store.session() as s:
        s.execute(update(VaultSecret).where(VaultSecret.name == "crm/token").values(**old_row))
    with pytest.raises(IntegrityError, match=r"rolled back.*no backup was written"):
        bk.create_backup(rt.store, rt.vault, tmp_path / "b.rfbak")
    assert not (tmp_path / "b.rfbak").exists()


# -- secrets stored before this change ------------------------------------------------------
def test_secrets_stored_before_the_anchoring_keep_working_after_the_upgrade(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migration 0018 appends one vault.baseline record per secret stored before it."""
    monkeypatch.setenv("RINGFENCE_MASTER_KEY", "B" * 43 + "=")
    store = Store(store_url)
    try:
        store.migrate()
        vault = Vault(store, None)
        vault.put("legacy/a", OLD)
        vault.put("legacy/b", NEW)
        vault.put("legacy/b", NEW + "2")
        # As stored before: no state records (the CLI's old ones carried no digest).
        with store.session() as s:
            s.execute(delete(AuditRecord))
            audit.append(
                s,
                actor="cli",
                action="vault.update",
                entity_type="vault_secret",
                entity_id="legacy/b",
                after={"name": "legacy/b", "version": 7},
            )
        with pytest.raises(IntegrityError, match="no audit record"):
            vault.get("legacy/a")
        cfg = alembic_config(store_url)
        with store.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0015_audit_entity_index")
        store.migrate()
        assert vault.get("legacy/a").get_secret_value() == OLD
        assert vault.get("legacy/b").get_secret_value() == NEW + "2"
        assert vault.put("legacy/b", "next").version == 3
        assert audit.verify(store).ok
        with store.session() as s:
            baseline = list(
                s.scalars(select(AuditRecord.actor).where(AuditRecord.action == "vault.baseline"))
            )
        assert baseline == ["migration:0018", "migration:0018"]
    finally:
        store.dispose()


def test_backup_verify_refuses_a_backup_holding_a_rolled_back_secret(
    any_runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backup written by a release that did not check (or a file made otherwise) whose
    secret row is older than its own audit chain says: verify and restore refuse it."""
    rt = any_runtime
    rt.vault.put("crm/token", OLD)
    old_row = _row(rt, "crm/token")
    rt.vault.put("crm/token", NEW)
    with rt.store.session() as s:
        s.execute(update(VaultSecret).where(VaultSecret.name == "crm/token").values(**old_row))
    monkeypatch.setattr(vault_mod, "check_recorded", lambda *a, **k: None)
    bk.create_backup(rt.store, rt.vault, tmp_path / "b.rfbak")
    monkeypatch.undo()
    with pytest.raises(IntegrityError, match="rolled back"):
        bk.verify_backup(tmp_path / "b.rfbak", rt.vault)


def test_backups_of_schemas_before_the_anchoring_are_not_held_to_it() -> None:
    assert not bk._anchors_secrets(["0015_audit_entity_index", "0017_gateway_assertion_jtis"])
    assert bk._anchors_secrets(["0018_vault_audit_baseline", "0017_gateway_assertion_jtis"])
    assert bk._anchors_secrets(["9999_from_a_newer_release"])


def test_the_rotation_record_names_both_key_ids(any_runtime: Runtime) -> None:
    rt = any_runtime
    rt.vault.put("crm/token", OLD)
    old_id = rt.vault.master_key_id
    new = MasterKey.generate()
    rt.vault.rotate_master(new, actor="cli")
    with rt.store.session() as s:
        last = s.scalar(
            select(AuditRecord).where(AuditRecord.action == "vault.rotate_master").limit(1)
        )
    assert last is not None and last.actor == "cli"
    assert last.before == {"master_key_id": old_id}
    assert last.after is not None and last.after["master_key_id"] == new.key_id
