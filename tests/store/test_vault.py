"""The vault: envelope encryption, metadata without values, master-key rotation."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import select, update

from ringfence.core.errors import ConfigError, IntegrityError, NotFoundError, ValidationError
from ringfence.runtime import Runtime
from ringfence.store.models import VaultSecret
from ringfence.store.vault import MasterKey, Vault, read_key_file

SECRET = "s3cr3t-V4lue-that-must-never-leak-7f1c"


def test_put_then_get_returns_the_secret_masked_in_repr(any_runtime: Runtime) -> None:
    meta = any_runtime.vault.put("crm/client-secret", SECRET, description="CRM sync")
    assert meta.version == 1 and meta.name == "crm/client-secret"
    value = any_runtime.vault.get("crm/client-secret")
    assert value.get_secret_value() == SECRET
    assert SECRET not in repr(value) and SECRET not in str(value)
    assert SECRET not in repr(meta)


def test_ciphertext_does_not_contain_the_secret(any_runtime: Runtime) -> None:
    any_runtime.vault.put("k", SECRET)
    with any_runtime.store.session() as s:
        row = s.scalar(select(VaultSecret))
        assert row is not None
        assert SECRET.encode() not in row.ciphertext
        assert SECRET.encode() not in row.wrapped_key
        assert len(row.wrapped_key) == 12 + 32 + 16  # nonce + AES-256 key + GCM tag


def test_put_again_bumps_the_version(any_runtime: Runtime) -> None:
    any_runtime.vault.put("k", "one")
    meta = any_runtime.vault.put("k", "two")
    assert meta.version == 2
    assert any_runtime.vault.get("k").get_secret_value() == "two"


def test_swapped_ciphertexts_fail_authentication(any_runtime: Runtime) -> None:
    any_runtime.vault.put("a", "alpha")
    any_runtime.vault.put("b", "bravo")
    with any_runtime.store.session() as s:
        a = s.scalar(select(VaultSecret).where(VaultSecret.name == "a"))
        b = s.scalar(select(VaultSecret).where(VaultSecret.name == "b"))
        assert a and b
        a.ciphertext, b.ciphertext = b.ciphertext, a.ciphertext
        a.wrapped_key, b.wrapped_key = b.wrapped_key, a.wrapped_key
    with pytest.raises(IntegrityError, match="failed authentication"):
        any_runtime.vault.get("a")


def test_tampered_ciphertext_fails_authentication(any_runtime: Runtime) -> None:
    any_runtime.vault.put("a", "alpha")
    with any_runtime.store.session() as s:
        row = s.scalar(select(VaultSecret))
        assert row is not None
        ct = bytearray(row.ciphertext)
        ct[-1] ^= 1
        s.execute(update(VaultSecret).values(ciphertext=bytes(ct)))
    with pytest.raises(IntegrityError):
        any_runtime.vault.get("a")


def test_rotate_master_rewraps_every_key_and_keeps_values(
    any_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(5):
        any_runtime.vault.put(f"s{i}", f"value-{i}")
    old_id = any_runtime.vault.master_key_id
    new = MasterKey.generate()
    count = any_runtime.vault.rotate_master(new)
    assert count == 5
    assert any_runtime.vault.master_key_id == new.key_id != old_id
    with any_runtime.store.session() as s:
        assert set(s.scalars(select(VaultSecret.master_key_id))) == {new.key_id}
    # A process that only knows the new key reads every secret.
    monkeypatch.setenv("RINGFENCE_MASTER_KEY", new.to_b64())
    fresh = Vault(any_runtime.store, None)
    assert [fresh.get(f"s{i}").get_secret_value() for i in range(5)] == [
        f"value-{i}" for i in range(5)
    ]


def test_rotation_is_all_or_nothing(any_runtime: Runtime) -> None:
    any_runtime.vault.put("good", "x")
    any_runtime.vault.put("bad", "y")
    with any_runtime.store.session() as s:
        row = s.scalar(select(VaultSecret).where(VaultSecret.name == "bad"))
        assert row is not None
        wk = bytearray(row.wrapped_key)
        wk[-1] ^= 1
        row.wrapped_key = bytes(wk)
    before = {}
    with any_runtime.store.session() as s:
        before = {r.name: r.wrapped_key for r in s.scalars(select(VaultSecret))}
    with pytest.raises(IntegrityError, match="nothing was changed"):
        any_runtime.vault.rotate_master(MasterKey.generate())
    with any_runtime.store.session() as s:
        after = {r.name: r.wrapped_key for r in s.scalars(select(VaultSecret))}
    assert after == before


def test_key_file_rotation_replaces_file_and_survives_reopen(runtime: Runtime) -> None:
    key_file = runtime.settings.resolved_master_key_file
    runtime.vault.put("k", SECRET)
    runtime.vault.rotate_master()
    assert not key_file.with_name(key_file.name + ".next").exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    reopened = Vault(runtime.store, key_file)
    assert reopened.get("k").get_secret_value() == SECRET
    assert reopened.master_key_id == read_key_file(key_file).key_id


def test_interrupted_rotation_is_finished_on_next_open(runtime: Runtime) -> None:
    """Crash after commit, before rename: the .next key opens every row and is adopted."""
    key_file = runtime.settings.resolved_master_key_file
    runtime.vault.put("k", SECRET)
    old_text = key_file.read_text()
    runtime.vault.rotate_master()
    new_text = key_file.read_text()
    # Simulate the crash: old key back in place, the new one still pending.
    key_file.chmod(0o600)
    pending = key_file.with_name(key_file.name + ".next")
    pending.write_text(new_text)
    pending.chmod(0o600)
    key_file.write_text(old_text)
    reopened = Vault(runtime.store, key_file)
    assert reopened.get("k").get_secret_value() == SECRET
    assert key_file.read_text() == new_text and not pending.exists()


def test_world_readable_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.write_text(base64.b64encode(os.urandom(32)).decode())
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="must be 0600"):
        read_key_file(path)


@pytest.mark.parametrize(
    ("value", "message"),
    [("not base64 !!", "not valid base64"), (base64.b64encode(b"short").decode(), "32 bytes")],
)
def test_bad_master_key_from_env_is_a_clear_error(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("RINGFENCE_MASTER_KEY", value)
    with pytest.raises(ConfigError, match=message):
        Vault(runtime.store, None).put("k", "v")


def test_wrong_master_key_cannot_read(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime.vault.put("k", SECRET)
    monkeypatch.setenv("RINGFENCE_MASTER_KEY", MasterKey.generate().to_b64())
    with pytest.raises(IntegrityError, match="not loaded"):
        Vault(runtime.store, None).get("k")


@pytest.mark.parametrize("name", ["", "has space", "semi;colon", "x" * 201])
def test_bad_secret_names_are_refused(runtime: Runtime, name: str) -> None:
    with pytest.raises(ValidationError, match="invalid secret name"):
        runtime.vault.put(name, "v")


def test_empty_secret_and_unknown_name(runtime: Runtime) -> None:
    with pytest.raises(ValidationError, match="empty"):
        runtime.vault.put("k", "")
    with pytest.raises(NotFoundError):
        runtime.vault.get("missing")
    with pytest.raises(NotFoundError):
        runtime.vault.metadata("missing")


def test_master_key_repr_has_no_key_material() -> None:
    key = MasterKey.generate()
    assert key.to_b64() not in repr(key)
