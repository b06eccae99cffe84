"""Session 12 vault review: master-key rotation against concurrent rotations and against
processes that still hold the old key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from ringfence.core.clock import FixedClock
from ringfence.core.config import load_settings
from ringfence.core.errors import ConfigError, ConflictError, IntegrityError
from ringfence.runtime import Runtime, initialise
from ringfence.store import vault as vault_mod
from ringfence.store.models import VaultSecret
from ringfence.store.vault import MasterKey, Vault, read_key_file

SECRET = "s3cr3t-V4lue-that-must-never-leak-7f1c"


@pytest.fixture
def file_runtime(store_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Runtime]:
    """A runtime whose master key is a key file, on SQLite and on PostgreSQL."""
    settings = load_settings(data_dir=tmp_path / "data", store_url=store_url)
    initialise(settings)
    rt = Runtime.open(settings, clock=clock)
    yield rt
    rt.close()


def test_a_second_rotation_while_one_runs_is_refused_and_no_key_is_lost(
    file_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two `vault rotate-master` at once: the second replaced the first's `.next` file, the
    first committed its key and renamed the second's over the key file — every secret was
    wrapped by a key that existed nowhere any more."""
    rt = file_runtime
    key_file = rt.settings.resolved_master_key_file
    rt.vault.put("crm/secret", SECRET)
    first, second = Vault(rt.store, key_file), Vault(rt.store, key_file)
    first.master_key_id, second.master_key_id  # noqa: B018  (both processes loaded the key)
    wrap = MasterKey.wrap
    outcome: list[object] = []

    def wrap_while_another_rotates(self: MasterKey, data_key: bytes, aad: bytes) -> bytes:
        if not outcome:
            try:
                outcome.append(second.rotate_master())
            except ConflictError as exc:
                outcome.append(exc)
        return wrap(self, data_key, aad)

    monkeypatch.setattr(MasterKey, "wrap", wrap_while_another_rotates)
    first.rotate_master()
    monkeypatch.setattr(MasterKey, "wrap", wrap)
    assert isinstance(outcome[0], ConflictError), outcome
    assert "another master-key rotation is running" in str(outcome[0])
    reopened = Vault(rt.store, key_file)
    assert reopened.get("crm/secret").get_secret_value() == SECRET
    assert reopened.master_key_id == first.master_key_id == read_key_file(key_file).key_id


def test_a_crashed_rotations_key_is_kept_when_the_next_rotation_fails(
    file_runtime: Runtime,
) -> None:
    """A `.next` left by a crash may be the only copy of a key some rows use: a rotation
    that fails afterwards must not have deleted it."""
    rt = file_runtime
    key_file = rt.settings.resolved_master_key_file
    crashed = MasterKey.generate()
    vault_mod.write_key_file(key_file.with_name(key_file.name + ".next"), crashed)
    rt.vault.put("a", "alpha")
    with rt.store.session() as s:  # a row that fails authentication makes the rotation fail
        s.execute(update(VaultSecret).values(wrapped_key=bytes(60)))
    with pytest.raises(IntegrityError, match="nothing was changed"):
        rt.vault.rotate_master(MasterKey.generate())
    kept = key_file.with_name(f"{key_file.name}.retired-{crashed.key_id}")
    assert read_key_file(kept).key_id == crashed.key_id


def test_a_process_holding_the_old_key_follows_a_rotation_made_by_another(
    file_runtime: Runtime,
) -> None:
    """`vault rotate-master` while `serve` runs: the server could read no secret until it was
    restarted, and wrapped every secret it stored meanwhile with the old key — after the
    restart those were unreadable (only the retired key, meant to go offline, opened them)."""
    rt = file_runtime
    key_file = rt.settings.resolved_master_key_file
    rt.vault.put("a", "alpha")
    serving = Vault(rt.store, key_file)
    assert serving.get("a").get_secret_value() == "alpha"
    Vault(rt.store, key_file).rotate_master()
    assert serving.get("a").get_secret_value() == "alpha"
    serving.put("b", "bravo")
    restarted = Vault(rt.store, key_file)
    assert restarted.get("b").get_secret_value() == "bravo"
    assert {m.master_key_id for m in restarted.list()} == {restarted.master_key_id}


def test_with_an_environment_key_a_stale_process_stores_nothing_under_the_old_key(
    any_runtime: Runtime,
) -> None:
    rt = any_runtime
    rt.vault.put("a", "alpha")
    stale = Vault(rt.store, None)
    assert stale.get("a").get_secret_value() == "alpha"
    new = MasterKey.generate()
    Vault(rt.store, None).rotate_master(new)
    with pytest.raises(ConfigError, match=f"wrapped by master key {new.key_id}.*rotated"):
        stale.put("b", "bravo")
    assert not stale.exists("b")
    assert {m.master_key_id for m in stale.list()} == {new.key_id}
