"""The audit hash chain detects edits, deletions, insertions and reordering, and names them."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, select, text, update

from ringfence.core.clock import FixedClock
from ringfence.store import audit
from ringfence.store.db import Store
from ringfence.store.models import AuditRecord


def _fill(store: Store, n: int = 6) -> None:
    clock = FixedClock()
    for i in range(n):
        clock.advance(1)
        audit.append_standalone(
            store,
            actor="tester",
            action="app.update",
            entity_type="app",
            entity_id=f"app-{i}",
            before={"clearance": i},
            after={"clearance": i + 1},
            clock=clock,
        )


def test_intact_chain_verifies(store: Store) -> None:
    _fill(store)
    result = audit.verify(store)
    assert result.ok and result.records == 6 and len(result.head) == 64


def test_empty_chain_verifies(store: Store) -> None:
    result = audit.verify(store)
    assert result.ok and result.records == 0 and result.head == audit.GENESIS


def test_edited_record_is_named(store: Store) -> None:
    _fill(store)
    with store.session() as s:
        s.execute(update(AuditRecord).where(AuditRecord.seq == 3).values(actor="mallory"))
    result = audit.verify(store)
    assert not result.ok
    assert [(p.seq, "edited" in p.problem) for p in result.problems] == [(3, True)]


def test_edited_json_payload_is_detected(store: Store) -> None:
    _fill(store)
    with store.session() as s:
        s.execute(update(AuditRecord).where(AuditRecord.seq == 2).values(after={"clearance": 99}))
    assert [p.seq for p in audit.verify(store).problems] == [2]


def test_deleted_record_is_named(store: Store) -> None:
    _fill(store)
    with store.session() as s:
        s.execute(delete(AuditRecord).where(AuditRecord.seq == 4))
    problems = audit.verify(store).problems
    assert problems and all(p.seq == 5 for p in problems)
    assert any("missing" in p.problem for p in problems)


def test_reordered_records_are_detected(store: Store) -> None:
    _fill(store)
    with store.session() as s:
        # Swap the sequence numbers of records 2 and 3 (via a temporary value).
        s.execute(text("UPDATE audit_log SET seq = 1000 WHERE seq = 2"))
        s.execute(text("UPDATE audit_log SET seq = 2 WHERE seq = 3"))
        s.execute(text("UPDATE audit_log SET seq = 3 WHERE seq = 1000"))
    problems = audit.verify(store).problems
    assert {p.seq for p in problems} >= {2, 3}


def test_recomputed_hash_after_edit_still_breaks_the_next_link(store: Store) -> None:
    """An attacker who edits a record and recomputes its hash breaks the following link."""
    _fill(store)
    with store.session() as s:
        row = s.scalar(select(AuditRecord).where(AuditRecord.seq == 2))
        assert row is not None
        row.actor = "mallory"
        row.hash = audit._row_hash(row)
    problems = audit.verify(store).problems
    assert [p.seq for p in problems] == [3]


def test_secrets_in_before_after_are_redacted(store: Store) -> None:
    audit.append_standalone(
        store,
        actor="t",
        action="credential.create",
        entity_type="credential",
        after={"name": "c", "client_secret": "hunter2hunter2", "note": "AKIAABCDEFGHIJKLMNOP"},
    )
    with store.session() as s:
        row = s.scalar(select(AuditRecord))
        assert row is not None and row.after is not None
        assert row.after["client_secret"] == "[REDACTED]"
        assert "AKIA" not in row.after["note"]
    assert audit.verify(store).ok


def test_two_appenders_racing_cannot_fork_the_chain(store: Store) -> None:
    """Unique prev_hash: a second record claiming the same predecessor is refused."""
    _fill(store, 2)
    from sqlalchemy.exc import IntegrityError

    with store.session() as s:
        head = s.scalar(select(AuditRecord).where(AuditRecord.seq == 2))
        assert head is not None
        prev = head.prev_hash
    with pytest.raises(IntegrityError), store.session() as s:
        s.add(
            AuditRecord(
                seq=99,
                id="fork",
                ts=head.ts,
                actor="x",
                action="x",
                entity_type="x",
                prev_hash=prev,
                hash="f" * 64,
            )
        )


# -- anchors: what the chain cannot show from the inside ------------------------------------
def _rehash_from(store: Store, seq: int) -> None:
    """What an attacker with database access does after editing: recompute every hash."""
    with store.session() as s:
        rows = list(s.scalars(select(AuditRecord).order_by(AuditRecord.seq)))
        prev = audit.GENESIS
        for row in rows:
            if row.seq >= seq:
                row.prev_hash = "pending-" + row.id  # unique while rows are rewritten
        s.flush()
        for row in rows:
            if row.seq >= seq:
                row.prev_hash = prev
                row.hash = audit._row_hash(row)
                s.flush()
            prev = row.hash


def test_anchor_catches_a_cut_off_tail(store: Store) -> None:
    _fill(store)
    mark = audit.current_anchor(store, FixedClock())
    assert mark is not None and mark.seq == 6
    assert audit.verify(store, [mark]).ok
    with store.session() as s:
        s.execute(delete(AuditRecord).where(AuditRecord.seq >= 5))
    assert audit.verify(store).ok  # invisible without the anchor
    problems = audit.verify(store, [mark]).problems
    assert [(p.seq, "records 5..6" in p.problem and "cut off" in p.problem) for p in problems] == [
        (6, True)
    ]


def test_anchor_catches_a_rehashed_chain_and_later_records_do_not_disturb_it(
    store: Store,
) -> None:
    _fill(store, 4)
    early = audit.current_anchor(store, FixedClock())
    assert early is not None
    _fill(store, 3)  # the chain goes on after the anchor: still fine
    assert audit.verify(store, [early]).ok
    with store.session() as s:
        s.execute(update(AuditRecord).where(AuditRecord.seq == 2).values(actor="mallory"))
    _rehash_from(store, 2)
    assert audit.verify(store).ok  # internally consistent again
    problems = audit.verify(store, [early]).problems
    assert [(p.seq, "rewritten" in p.problem) for p in problems] == [(4, True)]


def test_anchor_lines_are_validated_and_named() -> None:
    good = '{"seq": 3, "head": "' + "a" * 64 + '", "ts": "2026-11-26T12:00:00+00:00"}'
    assert [a.seq for a in audit.parse_anchors(good + "\n\n" + good)] == [3, 3]
    bad = [
        ("[1]", "line 1: not a JSON object"),
        ("{", "line 1: not a JSON object"),
        ('{"seq": 0, "head": "' + "a" * 64 + '", "ts": "2026-11-26T12:00:00Z"}', "`seq`"),
        ('{"seq": 1, "head": "xyz", "ts": "2026-11-26T12:00:00Z"}', "`head`"),
        ('{"seq": 1, "head": "' + "a" * 64 + '", "ts": "yesterday"}', "`ts`"),
        ('{"seq": 1, "head": "' + "a" * 64 + '", "ts": "2026-11-26T12:00:00"}', "`ts`"),
    ]
    from ringfence.core.errors import ValidationError

    for text_, expected in bad:
        with pytest.raises(ValidationError) as info:
            audit.parse_anchors(good + "\n" + text_, "anchors.jsonl")
        assert "anchors.jsonl, line 2" in str(info.value) and expected.split(": ")[-1] in str(
            info.value
        )


def test_anchorer_writes_a_line_only_when_the_head_moves(store: Store, tmp_path: Path) -> None:
    import os
    import stat

    path = tmp_path / "anchors" / "audit-anchors.jsonl"
    anchorer = audit.Anchorer(store, path, FixedClock())
    assert anchorer.tick() is None and not path.exists()  # empty log: nothing to anchor
    _fill(store, 2)
    assert anchorer.tick() is not None
    assert anchorer.tick() is None
    _fill(store, 1)
    assert anchorer.tick() is not None
    marks = audit.read_anchors(path)
    assert [m.seq for m in marks] == [2, 3]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert audit.verify(store, marks).ok


def test_concurrent_appenders_wait_instead_of_colliding(store: Store) -> None:
    """Eight threads append in their own transactions at once (no retry): every record lands
    and the chain is intact — on SQLite too, where appenders take the write lock first."""
    import threading

    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            for j in range(5):
                with store.session() as s:
                    s.execute(
                        select(AuditRecord.seq).limit(1)
                    ).all()  # a read first, as handlers do
                    audit.append(s, actor="t", action="x.y", entity_type="x", entity_id=f"{i}-{j}")
        except BaseException as exc:  # collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    result = audit.verify(store)
    assert result.ok and result.records == 40
