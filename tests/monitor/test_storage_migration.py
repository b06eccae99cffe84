"""Revision 0009 moves stored events from two JSON columns into one ``body`` column and back,
on SQLite and PostgreSQL, without losing or changing an event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import command
from sqlalchemy import inspect

from ringfence.monitor.storage import EventStore, HuntQuery
from ringfence.store.db import Store, alembic_config
from ringfence.store.types import JSONType, UTCDateTime

T0 = datetime(2026, 1, 5, 10, tzinfo=UTC)

_OLD = sa.Table(
    "monitor_events",
    sa.MetaData(),
    sa.Column("id", sa.String(36)),
    sa.Column("ts", UTCDateTime()),
    sa.Column("source", sa.String(40)),
    sa.Column("product", sa.String(40)),
    sa.Column("service", sa.String(80)),
    sa.Column("class_uid", sa.Integer()),
    sa.Column("activity_id", sa.Integer()),
    sa.Column("action", sa.String(200)),
    sa.Column("actor", sa.String(320)),
    sa.Column("src_ip", sa.String(64)),
    sa.Column("status_id", sa.SmallInteger()),
    sa.Column("severity_id", sa.SmallInteger()),
    sa.Column("ingested_at", UTCDateTime()),
    sa.Column("ocsf", JSONType),
    sa.Column("raw", JSONType),
)


def _old_row(i: int) -> dict[str, Any]:
    return {
        "id": f"00000000-0000-4000-8000-{i:012d}",
        "ts": T0 + timedelta(hours=i),
        "source": "okta",
        "product": "okta",
        "service": "okta",
        "class_uid": 3002,
        "activity_id": 1,
        "action": "user.session.start",
        "actor": f"user{i}@example.com",
        "src_ip": "203.0.113.7",
        "status_id": 1,
        "severity_id": 1,
        "ingested_at": T0,
        "ocsf": {"class_uid": 3002, "actor": {"user": {"name": f"user{i}"}}, "n": [1, 2.5, None]},
        "raw": {"eventType": "user.session.start", "uuid": f"u{i}", "unicode": "é ✓", "t": True},
    }


def _partitions(store: Store, days: int) -> None:
    if store.dialect != "postgresql":
        return
    with store.engine.begin() as conn:
        for d in range(days):
            day = (T0 + timedelta(days=d)).date()
            conn.execute(
                sa.text(
                    f"CREATE TABLE monitor_events_p{day:%Y%m%d} PARTITION OF monitor_events "
                    f"FOR VALUES FROM ('{day} 00:00:00+00') TO ('{day + timedelta(days=1)} "
                    "00:00:00+00')"
                )
            )


def test_events_survive_the_move_to_a_body_column_and_back(blank_store_url: str) -> None:
    store = Store(blank_store_url)
    try:
        store.migrate("0003_monitor")
        _partitions(store, 2)
        rows = [_old_row(i) for i in range(30)]
        with store.engine.begin() as conn:
            conn.execute(_OLD.insert(), rows)

        store.migrate()
        cols = {c["name"] for c in inspect(store.engine).get_columns("monitor_events")}
        assert "body" in cols and not {"ocsf", "raw"} & cols
        indexes = {i["name"] for i in inspect(store.engine).get_indexes("monitor_events")}
        assert "ix_monitor_events_class_ts" not in indexes
        assert "ix_monitor_events_actor_ts" in indexes
        found = EventStore(store).hunt(HuntQuery(limit=100))
        assert len(found) == 30
        by_id = {e.id: e for e in found}
        for r in rows:
            e = by_id[r["id"]]
            assert (e.ocsf, e.raw, e.actor, e.time) == (r["ocsf"], r["raw"], r["actor"], r["ts"])

        with store.engine.begin() as conn:
            cfg = alembic_config(store.url)
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0009_monitor_lean_events-1")
        with store.engine.connect() as conn:
            back = {r.id: r for r in conn.execute(sa.select(_OLD))}
        assert len(back) == 30
        for r in rows:
            assert (back[r["id"]].ocsf, back[r["id"]].raw) == (r["ocsf"], r["raw"])
        indexes = {i["name"] for i in inspect(store.engine).get_indexes("monitor_events")}
        assert "ix_monitor_events_class_ts" in indexes
    finally:
        store.dispose()
