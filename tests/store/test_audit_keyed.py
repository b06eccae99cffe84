"""Session 14: the audit chain is keyed (HMAC-SHA256 under a key derived from the master key).

The attacker of these tests can write to the database (direct SQL) but does not hold the
master key. Before, a record appended with a correct SHA-256 link, or a chain re-linked from
some record on, verified as intact; now it needs the key. Records written before the upgrade
stay verifiable as unkeyed, an unkeyed record after a keyed one fails (downgrade), and a
verification without the key says what it could not check instead of passing.
"""

from __future__ import annotations

import base64
import os
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import delete, select, update

from ringfence.core.errors import ConfigError
from ringfence.runtime import Runtime
from ringfence.store import audit
from ringfence.store import backup as bk
from ringfence.store.db import Store, alembic_config
from ringfence.store.models import AuditRecord
from ringfence.store.vault import MasterKey, Vault, write_key_file


def _fill(store: Store, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        audit.append_standalone(
            store,
            actor="tester",
            action="app.update",
            entity_type="app",
            entity_id=f"app-{i}",
            before={"clearance": i},
            after={"clearance": i + 1},
        )


def _head(store: Store) -> AuditRecord:
    with store.session() as s:
        row = s.scalar(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1))
        assert row is not None
        return row


def _forge_append(store: Store, *, key_id: str | None = None, hash_: str | None = None) -> int:
    """What an attacker with database write access appends: a record whose SHA-256 link is
    computed exactly as the unkeyed chain computes it, or one that names a master key id (a
    public value) with a link they cannot compute. Direct SQL, no Ringfence code involved."""
    head = _head(store)
    seq = head.seq + 1
    values: dict[str, Any] = {
        "seq": seq,
        "id": f"forged-{seq}",
        "ts": head.ts,
        "actor": "user:alice",
        "action": "integration.quarantine_lift",
        "entity_type": "integration",
        "entity_id": "crm-sync",
        "before": None,
        "after": {"status": "active"},
        "prev_hash": head.hash,
    }
    link = audit.compute_hash(
        seq=seq,
        record_id=values["id"],
        ts=values["ts"],
        actor=values["actor"],
        action=values["action"],
        entity_type=values["entity_type"],
        entity_id=values["entity_id"],
        before=None,
        after=values["after"],
        prev_hash=head.hash,
    )
    values["hash"] = hash_ or link
    if key_id is not None:
        values["key_id"] = key_id
    with store.engine.begin() as conn:
        conn.execute(sa.insert(AuditRecord.__table__).values(**values))
    return seq


def _relink_unkeyed_from(store: Store, seq: int) -> None:
    """Rewrite the chain from ``seq`` on with fresh SHA-256 links (an attacker's re-linking
    after an edit): every record from there on, keyed or not, becomes an unkeyed one."""
    with store.engine.begin() as conn:
        rows = [
            dict(r)
            for r in conn.execute(
                sa.select(AuditRecord.__table__).order_by(AuditRecord.seq)
            ).mappings()
        ]
        for r in rows:
            if r["seq"] >= seq:
                conn.execute(
                    sa.update(AuditRecord.__table__)
                    .where(AuditRecord.seq == r["seq"])
                    .values(prev_hash="pending-" + r["id"], hash="pending-h-" + r["id"])
                )
        prev = audit.GENESIS
        for r in rows:
            if r["seq"] >= seq:
                link = audit.compute_hash(
                    seq=r["seq"],
                    record_id=r["id"],
                    ts=r["ts"],
                    actor=r["actor"],
                    action=r["action"],
                    entity_type=r["entity_type"],
                    entity_id=r["entity_id"],
                    before=r["before"],
                    after=r["after"],
                    prev_hash=prev,
                )
                conn.execute(
                    sa.update(AuditRecord.__table__)
                    .where(AuditRecord.seq == r["seq"])
                    .values(prev_hash=prev, hash=link, key_id=None)
                )
                prev = link
            else:
                prev = r["hash"]


# -- fails before: what a database writer without the key could do ---------------------------
def test_a_record_appended_by_direct_sql_with_a_correct_sha256_link_fails_verify(
    any_runtime: Runtime,
) -> None:
    """Before: the forged record (lifting a quarantine "as alice") verified as intact."""
    rt = any_runtime
    _fill(rt.store, 3)
    assert audit.verify(rt.store).ok
    forged = _forge_append(rt.store)
    result = audit.verify(rt.store)
    assert not result.ok
    assert [p.seq for p in result.problems] == [forged]


def test_a_chain_relinked_with_fresh_sha256_links_fails_verify(any_runtime: Runtime) -> None:
    """Before: edit record 2, recompute every link from there on: verify passed (only an
    anchor could tell)."""
    rt = any_runtime
    _fill(rt.store, 5)
    with rt.store.engine.begin() as conn:
        conn.execute(
            sa.update(AuditRecord.__table__).where(AuditRecord.seq == 2).values(actor="mallory")
        )
    _relink_unkeyed_from(rt.store, 2)
    result = audit.verify(rt.store)
    assert not result.ok
    assert {p.seq for p in result.problems} >= {2}


# -- with the key, every kind of tampering is named ------------------------------------------
def test_a_keyed_chain_verifies_completely_and_says_where_it_is_keyed(
    any_runtime: Runtime,
) -> None:
    rt = any_runtime
    _fill(rt.store, 4)
    result = audit.verify(rt.store)
    assert result.ok and result.complete and result.records == 4
    assert result.keyed_from == 1 and result.unkeyed == 0
    assert result.keys_checked == (rt.vault.master_key_id,)
    with rt.store.session() as s:
        assert set(s.scalars(select(AuditRecord.key_id))) == {rt.vault.master_key_id}


def test_a_forged_record_naming_the_real_key_id_fails(any_runtime: Runtime) -> None:
    rt = any_runtime
    _fill(rt.store, 2)
    forged = _forge_append(rt.store, key_id=rt.vault.master_key_id)
    problems = audit.verify(rt.store).problems
    assert [(p.seq, "keyed MAC" in p.problem) for p in problems] == [(forged, True)]


def test_a_forged_record_naming_a_key_nobody_has_fails_instead_of_being_unchecked(
    any_runtime: Runtime,
) -> None:
    rt = any_runtime
    _fill(rt.store, 2)
    forged = _forge_append(rt.store, key_id="0123456789abcdef", hash_="e" * 64)
    result = audit.verify(rt.store)
    assert [(p.seq, "no checked record introduced" in p.problem) for p in result.problems] == [
        (forged, True)
    ]
    assert result.unchecked == ()


def test_a_record_naming_no_valid_key_id_fails_and_the_id_is_not_echoed(
    any_runtime: Runtime,
) -> None:
    rt = any_runtime
    _fill(rt.store, 2)
    forged = _forge_append(rt.store, key_id="[red]x/../..[/]", hash_="e" * 64)
    for keys in (None, audit.MasterKeyAuditKeys()):
        problems = audit.verify(rt.store, keys=keys).problems
        assert [(p.seq, "no valid master-key id" in p.problem) for p in problems] == [
            (forged, True)
        ]
        assert "x/.." not in problems[0].problem


def test_a_modified_keyed_record_is_named(any_runtime: Runtime) -> None:
    rt = any_runtime
    _fill(rt.store, 5)
    with rt.store.session() as s:
        s.execute(update(AuditRecord).where(AuditRecord.seq == 3).values(after={"clearance": 9}))
    problems = audit.verify(rt.store).problems
    assert [(p.seq, "edited" in p.problem) for p in problems] == [(3, True)]


def test_a_deleted_middle_record_is_named(any_runtime: Runtime) -> None:
    rt = any_runtime
    _fill(rt.store, 5)
    with rt.store.session() as s:
        s.execute(delete(AuditRecord).where(AuditRecord.seq == 3))
    problems = audit.verify(rt.store).problems
    assert problems and {p.seq for p in problems} == {4}
    assert any("missing" in p.problem for p in problems)


def test_a_deleted_record_with_the_next_one_relinked_is_named(any_runtime: Runtime) -> None:
    """Delete record 3, renumber 4.. down and point the new 3 at record 2: the keyed links
    cover the sequence number and the previous link, so the re-linked record fails."""
    rt = any_runtime
    _fill(rt.store, 5)
    with rt.store.engine.begin() as conn:
        two = conn.execute(sa.select(AuditRecord.hash).where(AuditRecord.seq == 2)).scalar_one()
        conn.execute(sa.delete(AuditRecord.__table__).where(AuditRecord.seq == 3))
        conn.execute(
            sa.update(AuditRecord.__table__).where(AuditRecord.seq == 4).values(prev_hash=two)
        )
        for seq in (4, 5):
            conn.execute(
                sa.update(AuditRecord.__table__).where(AuditRecord.seq == seq).values(seq=seq - 1)
            )
    result = audit.verify(rt.store)
    assert [(p.seq, "keyed MAC" in p.problem) for p in result.problems] == [(3, True), (4, True)]


def test_a_cut_off_keyed_tail_is_caught_by_an_anchor_as_before(any_runtime: Runtime) -> None:
    rt = any_runtime
    _fill(rt.store, 4)
    mark = audit.current_anchor(rt.store)
    assert mark is not None
    with rt.store.session() as s:
        s.execute(delete(AuditRecord).where(AuditRecord.seq >= 3))
    assert audit.verify(rt.store).ok  # a cut-off tail leaves no broken link
    problems = audit.verify(rt.store, [mark]).problems
    assert [(p.seq, "cut off" in p.problem) for p in problems] == [(4, True)]


# -- upgrade and downgrade -------------------------------------------------------------------
_OLD_AUDIT = sa.table(
    "audit_log",
    *(
        sa.column(c.name, c.type)
        for c in AuditRecord.__table__.columns
        if c.name not in ("key_id",)
    ),
)


def _legacy_records(store: Store, n: int) -> str:
    """Records as the release before keyed links wrote them (schema before 0020)."""
    from datetime import UTC, datetime

    prev = audit.GENESIS
    ts = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    with store.engine.begin() as conn:
        for seq in range(1, n + 1):
            rec = {
                "seq": seq,
                "id": f"legacy-{seq}",
                "ts": ts,
                "actor": "cli",
                "action": "app.update",
                "entity_type": "app",
                "entity_id": f"app-{seq}",
                "before": None,
                "after": {"n": seq},
                "prev_hash": prev,
            }
            link = audit.compute_hash(
                seq=seq,
                record_id=rec["id"],
                ts=ts,
                actor="cli",
                action="app.update",
                entity_type="app",
                entity_id=rec["entity_id"],
                before=None,
                after=rec["after"],
                prev_hash=prev,
            )
            conn.execute(_OLD_AUDIT.insert().values(**rec, hash=link))
            prev = link
        if store.dialect == "postgresql":
            conn.execute(
                sa.text(
                    "SELECT setval(pg_get_serial_sequence('audit_log', 'seq'), "
                    "(SELECT MAX(seq) FROM audit_log))"
                )
            )
    return prev


def _env_vault(store: Store, monkeypatch: pytest.MonkeyPatch) -> Vault:
    monkeypatch.setenv("RINGFENCE_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    return Vault(store, None)


def test_a_store_from_before_keyed_links_upgrades_and_stays_verifiable(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(store_url)
    try:
        cfg = alembic_config(store_url)
        with store.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0019_api_token_creator")
        last_unkeyed = _legacy_records(store, 3)
        store.migrate()  # 0020: key_id, NULL for every existing record
        before = audit.verify(store)
        assert before.ok and before.complete and before.keyed_from is None
        vault = _env_vault(store, monkeypatch)
        audit.use_keys(store, audit.MasterKeyAuditKeys(vault))
        _fill(store, 2)
        result = audit.verify(store)
        assert result.ok and result.complete
        assert result.keyed_from == 4 and result.unkeyed == 3 and result.records == 5
        with store.session() as s:
            first = s.scalar(select(AuditRecord).where(AuditRecord.seq == 4))
            assert first is not None
            assert first.prev_hash == last_unkeyed and first.key_id == vault.master_key_id
        assert any("records 1..3 are unkeyed" in line for line in result.coverage())
        # The unkeyed part is still checked as it was: an edit there is named.
        with store.session() as s:
            s.execute(update(AuditRecord).where(AuditRecord.seq == 2).values(actor="mallory"))
        assert [p.seq for p in audit.verify(store).problems] == [2]
    finally:
        audit.use_keys(store, None)
        store.dispose()


def test_an_unkeyed_record_after_the_keyed_part_began_fails(
    any_runtime: Runtime,
) -> None:
    """The downgrade: once keyed, a record written without the key is a forgery, even when
    its SHA-256 link is right — and it is found without the key too."""
    rt = any_runtime
    _fill(rt.store, 3)
    forged = _forge_append(rt.store)
    for keys in (None, audit.MasterKeyAuditKeys()):  # the store's keys, then none at all
        problems = audit.verify(rt.store, keys=keys).problems
        assert [(p.seq, "unkeyed record after the keyed part" in p.problem) for p in problems] == [
            (forged, True)
        ]


def test_a_keyed_part_replaced_whole_by_unkeyed_records_is_caught_by_an_anchor(
    any_runtime: Runtime,
) -> None:
    """The limit of links: every keyed record re-linked unkeyed (nothing keyed left to
    contradict it) is what a chain from before keyed links looks like. Verify says the chain
    is unkeyed; an anchor taken after the upgrade names the rewrite."""
    rt = any_runtime
    _fill(rt.store, 4)
    mark = audit.current_anchor(rt.store)
    assert mark is not None
    _relink_unkeyed_from(rt.store, 1)
    result = audit.verify(rt.store)
    assert result.ok and result.keyed_from is None
    assert any("all 4 records are unkeyed" in line for line in result.coverage())
    problems = audit.verify(rt.store, [mark]).problems
    assert [(p.seq, "rewritten" in p.problem) for p in problems] == [(4, True)]


def test_an_append_without_the_key_on_a_keyed_chain_is_refused(any_runtime: Runtime) -> None:
    rt = any_runtime
    _fill(rt.store, 2)
    keyless = Store(rt.store.url)  # a process that has no master key
    try:
        with pytest.raises(ConfigError, match="audit chain is keyed") as info:
            _fill(keyless, 1)
        assert info.value.code == "audit_key_missing"
    finally:
        keyless.dispose()
    result = audit.verify(rt.store)
    assert result.ok and result.complete and result.records == 2


# -- without the key: say what was and was not checked ---------------------------------------
def test_verify_without_the_key_says_what_it_could_not_check(any_runtime: Runtime) -> None:
    rt = any_runtime
    _fill(rt.store, 3)
    result = audit.verify(rt.store, keys=audit.MasterKeyAuditKeys())
    assert result.ok and not result.complete
    assert [(u.key_id, u.first, u.last, u.count) for u in result.unchecked] == [
        (rt.vault.master_key_id, 1, 3, 3)
    ]
    assert any("NOT checked" in line for line in result.coverage())
    # Links are still checked without the key: a deleted middle record is found.
    with rt.store.session() as s:
        s.execute(delete(AuditRecord).where(AuditRecord.seq == 2))
    assert not audit.verify(rt.store, keys=audit.MasterKeyAuditKeys()).ok


def test_the_audit_key_is_not_the_master_key_nor_another_derived_key(
    any_runtime: Runtime,
) -> None:
    rt = any_runtime
    current = audit.MasterKeyAuditKeys(rt.vault).current()
    assert current is not None
    key_id, mac_key = current
    assert key_id == rt.vault.master_key_id and len(mac_key) == 32
    raw = base64.b64decode(os.environ["RINGFENCE_MASTER_KEY"])
    assert mac_key != raw
    assert mac_key != rt.vault.derive_key(bk.PURPOSE, audit.AUDIT_KEY_SALT)
    assert mac_key != rt.vault.derive_key(audit.AUDIT_KEY_PURPOSE, b"")


# -- master-key rotation ---------------------------------------------------------------------
def test_records_linked_before_a_master_key_rotation_stay_verifiable(
    runtime: Runtime, tmp_path: Path
) -> None:
    rt = runtime
    key_file = rt.settings.resolved_master_key_file
    old_id = rt.vault.master_key_id
    _fill(rt.store, 2)
    rt.vault.rotate_master(actor="cli")
    new_id = rt.vault.master_key_id
    _fill(rt.store, 2, start=10)
    with rt.store.session() as s:
        ids = list(s.scalars(select(AuditRecord.key_id).order_by(AuditRecord.seq)))
    # the rotation's own record is linked with the old key and names the new one
    assert ids == [old_id, old_id, old_id, new_id, new_id]
    fresh = Runtime.open(rt.settings)  # a new process: only the new key is loaded
    try:
        result = audit.verify(fresh.store)  # the retired key beside the key file is used
        assert result.complete and set(result.keys_checked) == {old_id, new_id}
        retired = key_file.with_name(f"{key_file.name}.retired-{old_id}")
        offline = tmp_path / "offline.key"
        os.replace(retired, offline)  # the operator moved it offline with the old backups
    finally:
        fresh.close()
    later = Runtime.open(rt.settings)
    try:
        result = audit.verify(later.store)
        assert result.ok and not result.complete
        assert [(u.key_id, u.first, u.last) for u in result.unchecked] == [(old_id, 1, 3)]
        from ringfence.store.vault import read_key_file

        with_old = audit.MasterKeyAuditKeys(later.vault, extra=[read_key_file(offline)])
        assert audit.verify(later.store, keys=with_old).complete
        # An auditor holding only the old key: the new key's records follow the rotation
        # record that introduced it, so they are unchecked — not forgeries.
        only_old = audit.MasterKeyAuditKeys(extra=[read_key_file(offline)])
        result = audit.verify(later.store, keys=only_old)
        assert result.ok and result.keys_checked == (old_id,)
        assert [(u.key_id, u.first, u.last) for u in result.unchecked] == [(new_id, 4, 5)]
    finally:
        later.close()


# -- concurrency: unique prev_hash still forbids a fork --------------------------------------
def test_concurrent_keyed_appenders_wait_instead_of_colliding(store: Store, tmp_path: Path) -> None:
    key_file = tmp_path / "master.key"
    write_key_file(key_file, MasterKey.generate())
    audit.use_keys(store, audit.MasterKeyAuditKeys(Vault(store, key_file)))
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            for j in range(5):
                with store.session() as s:
                    audit.append(s, actor="t", action="x.y", entity_type="x", entity_id=f"{i}-{j}")
        except BaseException as exc:  # collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    result = audit.verify(store)
    assert result.ok and result.complete and result.records == 30 and result.keyed_from == 1
    head = _head(store)
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), store.session() as s:  # a second record on one head
        s.add(
            AuditRecord(
                seq=head.seq + 1,
                id="fork",
                ts=head.ts,
                actor="x",
                action="x",
                entity_type="x",
                prev_hash=head.prev_hash,
                hash="f" * 64,
                key_id=head.key_id,
            )
        )


# -- the anchorer of `serve` notices a forged record when it anchors it ----------------------
def test_the_anchorer_reports_a_record_forged_since_the_last_anchor(
    any_runtime: Runtime, tmp_path: Path
) -> None:
    rt = any_runtime
    anchorer = audit.Anchorer(rt.store, tmp_path / "anchors.jsonl")
    _fill(rt.store, 2)
    assert anchorer.tick() is not None and anchorer.problem is None
    _fill(rt.store, 2, start=5)
    assert anchorer.tick() is not None and anchorer.problem is None  # honest records
    forged = _forge_append(rt.store)
    assert anchorer.tick() is not None
    assert anchorer.problem is not None and f"audit record {forged}" in anchorer.problem
    assert "unkeyed record after the keyed part" in anchorer.problem
    _fill(rt.store, 1)
    anchorer.tick()  # the next stretch is honest; verify keeps naming the forged record
    assert anchorer.problem is None
    assert [p.seq for p in audit.verify(rt.store).problems] == [forged]


def test_every_runtime_links_with_its_vault_key_however_it_was_built(
    runtime: Runtime,
) -> None:
    """Runtime.open and a Runtime built from its parts (as the gateway's tests and tools do)
    both link their store's records with the vault's audit key."""
    direct_store = Store(runtime.store.url)
    try:
        direct = Runtime(
            settings=runtime.settings,
            store=direct_store,
            vault=Vault(direct_store, runtime.settings.resolved_master_key_file),
        )
        _fill(runtime.store, 1)
        _fill(direct.store, 1)
        with direct.store.session() as s:
            ids = list(s.scalars(select(AuditRecord.key_id).order_by(AuditRecord.seq)))
        assert ids == [runtime.vault.master_key_id] * 2
    finally:
        direct_store.dispose()
