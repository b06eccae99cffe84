"""Session 14 vault review: ``get`` checks the keyed link of the audit record a secret's state
comes from. Someone with write access to the database but without the master key who forges
that record (a plain SHA-256 link, a wrong MAC, a key id nobody has) to make a rolled-back
row look current gets the secret refused, not returned."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from ringfence.core.errors import IntegrityError
from ringfence.runtime import Runtime
from ringfence.store import audit
from ringfence.store.db import Store
from ringfence.store.models import AuditRecord, VaultSecret
from ringfence.store.vault import DIGEST_KEY, MasterKey, Vault, ciphertext_digest

OLD = "revoked-credential-value-1a2b3c"
NEW = "current-credential-value-4d5e6f"


def _row(rt: Runtime, name: str) -> dict[str, Any]:
    with rt.store.session() as s:
        row = s.scalar(select(VaultSecret).where(VaultSecret.name == name))
        assert row is not None
        return {
            "version": row.version,
            "ciphertext": row.ciphertext,
            "wrapped_key": row.wrapped_key,
        }


def _rolled_back(rt: Runtime) -> tuple[dict[str, Any], AuditRecord]:
    """OLD stored, then NEW; the row is put back to OLD's. Returns OLD's row and NEW's record."""
    rt.vault.put("crm/token", OLD)
    old_row = _row(rt, "crm/token")
    rt.vault.put("crm/token", NEW)
    with rt.store.session() as s:
        s.execute(update(VaultSecret).where(VaultSecret.name == "crm/token").values(**old_row))
        record = s.scalars(
            select(AuditRecord)
            .where(AuditRecord.entity_id == "crm/token")
            .order_by(AuditRecord.seq.desc())
        ).first()
        assert record is not None and record.key_id is not None  # the chain is keyed
        s.expunge(record)
    return old_row, record


def _forge(rt: Runtime, record: AuditRecord, after: dict[str, Any], **how: Any) -> None:
    """Rewrite ``record`` by direct SQL with ``after``; the link per ``how``: ``key_id`` (None:
    a plain SHA-256 link) and ``mac_key`` (a key that is not the audit key)."""
    key_id = how.get("key_id")
    link = audit.compute_hash(
        seq=record.seq,
        record_id=record.id,
        ts=record.ts,
        actor=record.actor,
        action=record.action,
        entity_type=record.entity_type,
        entity_id=record.entity_id,
        before=record.before,
        after=after,
        prev_hash=record.prev_hash,
        key_id=key_id,
        mac_key=how.get("mac_key"),
    )
    with rt.store.session() as s:
        s.execute(
            update(AuditRecord)
            .where(AuditRecord.seq == record.seq)
            .values(after=after, hash=link, key_id=key_id)
        )


def _as_old(old_row: dict[str, Any]) -> dict[str, Any]:
    return {"name": "crm/token", "version": 1, DIGEST_KEY: ciphertext_digest(old_row["ciphertext"])}


@pytest.mark.parametrize(
    "how",
    [
        pytest.param({"key_id": None}, id="plain-sha256-link"),
        pytest.param({"key_id": "keep", "mac_key": os.urandom(32)}, id="wrong-mac"),
        pytest.param({"key_id": "0123456789abcdef", "mac_key": os.urandom(32)}, id="unknown-key"),
    ],
)
def test_a_forged_state_record_does_not_make_a_rolled_back_row_pass(
    any_runtime: Runtime, how: dict[str, Any]
) -> None:
    """Before: the newest state record said version 1 with OLD's digest, so get returned OLD."""
    rt = any_runtime
    old_row, record = _rolled_back(rt)
    if how["key_id"] == "keep":
        how = {**how, "key_id": record.key_id}
    _forge(rt, record, _as_old(old_row), **how)
    with pytest.raises(IntegrityError, match=rf"audit record {record.seq}\b.*cannot be trusted"):
        rt.vault.get("crm/token")


def test_a_newer_state_record_edited_out_of_shape_does_not_hide(any_runtime: Runtime) -> None:
    """NEW's record edited so that it is no longer read as a state (no version): the state
    then came from OLD's genuine record. The record after it must be authentic too."""
    rt = any_runtime
    _old_row, record = _rolled_back(rt)
    _forge(rt, record, {"name": "crm/token"}, key_id=None)
    with pytest.raises(IntegrityError, match=rf"audit record {record.seq}\b.*unkeyed"):
        rt.vault.get("crm/token")


def test_a_forged_record_is_refused_in_a_process_started_later(any_runtime: Runtime) -> None:
    rt = any_runtime
    old_row, record = _rolled_back(rt)
    _forge(rt, record, _as_old(old_row), key_id=None)
    fresh = Vault(rt.store, None)
    with pytest.raises(IntegrityError, match="cannot be trusted") as caught:
        fresh.get("crm/token")
    assert OLD not in str(caught.value) and NEW not in str(caught.value)


def test_authentic_records_still_open_the_secret(any_runtime: Runtime) -> None:
    rt = any_runtime
    rt.vault.put("crm/token", OLD)
    rt.vault.put("crm/token", NEW)
    assert rt.vault.get("crm/token").get_secret_value() == NEW
    assert Vault(rt.store, None).get("crm/token").get_secret_value() == NEW


def test_a_state_recorded_before_the_keyed_part_stays_accepted(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A secret stored before keyed links (its record unkeyed), the chain keyed since."""
    monkeypatch.setenv("RINGFENCE_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    vault = Vault(store, None)
    vault.put("legacy/a", OLD)  # no audit keys registered: an unkeyed record
    audit.use_keys(store, audit.MasterKeyAuditKeys(vault))
    try:
        vault.put("other/b", NEW)  # the keyed part begins
        with store.session() as s:
            keys = list(s.scalars(select(AuditRecord.key_id).order_by(AuditRecord.seq)))
        assert keys[0] is None and keys[-1] == vault.master_key_id
        assert vault.get("legacy/a").get_secret_value() == OLD
        assert Vault(store, None).get("legacy/a").get_secret_value() == OLD
    finally:
        audit.use_keys(store, None)


def test_after_a_rotation_a_process_with_only_the_new_key_opens_every_secret(
    any_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rotation re-records each secret's state under the new key (after its own record,
    linked with the old one): the old environment key is gone after the swap."""
    rt = any_runtime
    rt.vault.put("crm/token", OLD)
    rt.vault.put("crm/token", NEW)
    new = MasterKey.generate()
    rt.vault.rotate_master(new)
    monkeypatch.setenv("RINGFENCE_MASTER_KEY", new.to_b64())
    assert Vault(rt.store, None).get("crm/token").get_secret_value() == NEW
    with rt.store.session() as s:
        last = list(
            s.execute(
                select(AuditRecord.action, AuditRecord.key_id, AuditRecord.after)
                .order_by(AuditRecord.seq.desc())
                .limit(2)
            )
        )
    assert last[0].action == "vault.baseline" and last[0].key_id == new.key_id
    assert last[1].action == "vault.rotate_master" and last[1].key_id != new.key_id
    assert audit.verify(rt.store).ok


def test_a_rotation_does_not_re_record_a_forged_state(
    any_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = any_runtime
    old_row, record = _rolled_back(rt)
    _forge(rt, record, _as_old(old_row), key_id=None)
    new = MasterKey.generate()
    rt.vault.rotate_master(new)
    monkeypatch.setenv("RINGFENCE_MASTER_KEY", new.to_b64())
    with pytest.raises(IntegrityError, match="cannot be trusted"):
        Vault(rt.store, None).get("crm/token")
