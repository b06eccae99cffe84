"""Session 12 audit review: the per-transaction head cache never outlives its transaction."""

from __future__ import annotations

from ringfence.store import audit
from ringfence.store.db import Store


def test_a_session_appending_again_after_its_commit_reads_the_current_head(store: Store) -> None:
    """The head was cached under the session's transaction *before* the first statement,
    which is None; after a commit the next transaction is None again until a statement runs,
    so the stale head was reused: duplicate seq (the change failed) and, on PostgreSQL, no
    advisory lock."""
    session = store._sessions()
    try:
        audit.append(session, actor="a", action="one", entity_type="t")
        session.commit()
        audit.append_standalone(store, actor="b", action="other writer", entity_type="t")
        audit.append(session, actor="a", action="two", entity_type="t")
        session.commit()
    finally:
        session.close()
    result = audit.verify(store)
    assert result.ok and result.records == 3
