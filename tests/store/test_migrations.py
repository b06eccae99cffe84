"""Migrations run identically on SQLite and PostgreSQL, and are idempotent."""

from __future__ import annotations

from sqlalchemy import inspect

from ringfence.store.db import Store


def test_migrate_creates_every_foundation_table(blank_store_url: str) -> None:
    store = Store(blank_store_url)
    assert not store.is_migrated()
    store.migrate()
    assert store.is_migrated()
    tables = set(inspect(store.engine).get_table_names())
    indexes = {i["name"] for i in inspect(store.engine).get_indexes("audit_log")}
    assert {"ix_audit_log_action_ts", "ix_audit_log_entity_seq"} <= indexes
    store.dispose()
    assert {
        "people",
        "vendors",
        "apps",
        "integrations",
        "credentials",
        "data_flows",
        "vault_secrets",
        "audit_log",
        "api_tokens",
        "alembic_version",
    } <= tables


def test_migrate_twice_is_a_no_op(store: Store) -> None:
    before = store.current_revisions()
    store.migrate()
    assert store.current_revisions() == before == store.head_revisions()
    assert store.is_migrated()


def test_fresh_store_reports_not_migrated(blank_store_url: str) -> None:
    s = Store(blank_store_url)
    try:
        assert not inspect(s.engine).get_table_names()
        assert not s.is_migrated()
        assert s.current_revisions() == set()
    finally:
        s.dispose()


def test_an_entitys_latest_audit_record_is_found_by_index(store: Store) -> None:
    """The identity lifecycle reads an integration's latest status change on every owner
    reactivation / reassignment: a lookup by entity newest first, not a scan of the log."""
    from sqlalchemy import select, text

    from ringfence.store.models import AuditRecord

    query = (
        select(AuditRecord.seq)
        .where(AuditRecord.entity_type == "integration", AuditRecord.entity_id == "x")
        .order_by(AuditRecord.seq.desc())
    )
    with store.engine.connect() as conn:
        compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
        if conn.dialect.name == "sqlite":
            plan = " ".join(
                str(r[-1]) for r in conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
            )
        else:
            conn.execute(text("SET enable_seqscan = off"))
            plan = " ".join(str(r[0]) for r in conn.execute(text(f"EXPLAIN {compiled}")))
    assert "ix_audit_log_entity_seq" in plan, plan
