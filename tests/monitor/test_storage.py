from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import text

from ringfence.core.errors import ValidationError
from ringfence.monitor.ingest import ingest
from ringfence.monitor.parsers import parser_for
from ringfence.monitor.service import Monitor
from ringfence.monitor.storage import EventStore, FieldFilter, HuntQuery
from ringfence.store.db import Store
from tests.monitor import records as R

NOW = datetime(2026, 1, 10, tzinfo=UTC)


def okta_events(n: int, start: datetime, step: timedelta = timedelta(hours=1)) -> list:
    out = []
    for i in range(n):
        rec = R.okta(uuid=f"u-{i}", published=(start + i * step).isoformat())
        out.extend(parser_for("okta")(rec))
    return out


def test_store_is_idempotent_by_event_id(store: Store) -> None:
    es = EventStore(store)
    events = okta_events(30, NOW - timedelta(days=3))
    assert len(es.store_events(events, NOW)) == 30
    assert es.store_events(events, NOW) == []
    again = es.store_events(events[:5] + okta_events(31, NOW - timedelta(days=3))[30:], NOW)
    assert len(again) == 1
    assert es.count() == 31 == es.count_distinct_ids()


def test_large_bodies_are_stored_whole_and_compressed_with_lz4_on_postgres(store: Store) -> None:
    """A body over PostgreSQL's ~2 KB TOAST threshold is compressed; with lz4 where the server
    has it (cheaper to write than pglz), and it reads back exactly as it was."""
    es = EventStore(store)
    big = okta_events(1, NOW)[0]
    big.raw["padding"] = "".join(f"{i:05d} no secret here; " for i in range(400))  # ~9 KB
    (small,) = parser_for("github")(R.github())  # ~1 KB: stored as it is
    assert es.store_events([big, small], NOW) == [big.id, small.id]
    (found,) = es.hunt(HuntQuery(entity=big.actor, filters=[FieldFilter.parse("raw.uuid=u-0")]))
    assert found.raw == big.raw and found.ocsf == big.ocsf
    if store.dialect == "postgresql":
        with store.engine.connect() as conn:
            lz4 = conn.execute(
                text(
                    "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                    "WHERE name = 'default_toast_compression'"
                )
            ).scalar()
            methods = dict(
                conn.execute(
                    text("SELECT id, pg_column_compression(body) FROM monitor_events")
                ).all()
            )
        assert methods == {big.id: "lz4" if lz4 else "pglz", small.id: None}


def test_postgres_creates_one_partition_per_day(store: Store) -> None:
    es = EventStore(store)
    es.store_events(okta_events(72, NOW - timedelta(days=3)), NOW)
    if store.dialect == "postgresql":
        assert es.partitions() == [
            "monitor_events_p20260107",
            "monitor_events_p20260108",
            "monitor_events_p20260109",
        ]
        # a fresh EventStore (another worker) tolerates existing partitions
        assert EventStore(store).store_events(okta_events(73, NOW - timedelta(days=3)), NOW)
    else:
        assert es.partitions() == []


def test_purge_applies_retention_per_source(store: Store) -> None:
    es = EventStore(store)
    es.store_events(okta_events(10, NOW - timedelta(days=10), timedelta(days=1)), NOW)
    gh = [
        e
        for i in range(10)
        for e in parser_for("github")(
            R.github(
                _document_id=f"d{i}",
                **{"@timestamp": int((NOW - timedelta(days=10 - i)).timestamp() * 1000)},
            )
        )
    ]
    es.store_events(gh, NOW)
    removed = es.purge(NOW, {"okta": 3}, default_days=7)
    assert removed == {"okta": 7, "github": 3}
    assert es.count("okta") == 3 and es.count("github") == 7
    if store.dialect == "postgresql":
        assert all(p >= "monitor_events_p20260103" for p in es.partitions())
    with pytest.raises(ValidationError):
        es.purge(NOW, {"okta": 0})


def test_hunt_by_time_entity_class_and_fields(store: Store) -> None:
    es = EventStore(store)
    es.store_events(okta_events(5, NOW - timedelta(hours=10)), NOW)
    es.store_events(parser_for("okta")(R.okta("user.mfa.factor.deactivate", uuid="mfa")), NOW)
    es.store_events(parser_for("slack")(R.slack()), NOW)
    assert len(es.hunt(HuntQuery(limit=100))) == 7
    got = es.hunt(HuntQuery(since=NOW - timedelta(hours=8)))
    assert len(got) == 3 and all(e.time >= NOW - timedelta(hours=8) for e in got)
    assert [e.action for e in es.hunt(HuntQuery(class_uids=[3001]))] == [
        "user.mfa.factor.deactivate"
    ]
    assert {e.source for e in es.hunt(HuntQuery(entity="bird@example.com"))} == {"slack"}
    f = [FieldFilter.parse("raw.entity.app.scopes=ADMIN")]
    assert [e.source for e in es.hunt(HuntQuery(filters=f))] == ["slack"]
    f = [FieldFilter.parse("raw.client.geographicalContext.city~berl")]
    assert len(es.hunt(HuntQuery(filters=f))) == 6
    f = [FieldFilter.parse("actor.user.email_addr!=admin@example.com")]
    assert len(es.hunt(HuntQuery(filters=f))) == 1
    assert len(es.hunt(HuntQuery(limit=2))) == 2


@pytest.mark.parametrize("spec", ["", "=x", "novalue"])
def test_bad_field_filter(spec: str) -> None:
    with pytest.raises(ValidationError, match="bad field filter"):
        FieldFilter.parse(spec)


def test_ingest_dead_letters_bad_lines_and_keeps_going(sqlite_store: Store) -> None:
    mon = Monitor(sqlite_store)
    lines = [
        orjson.dumps(R.okta(uuid="a")),
        b"{not json",
        orjson.dumps([1, 2]),
        orjson.dumps(R.okta(uuid="b", published="never")),
        b"x" * (1024 * 1024 + 1),
        orjson.dumps(R.okta(uuid="c")),
        orjson.dumps(R.okta(uuid="d", published="1999-01-01T00:00:00Z")),
        orjson.dumps(R.okta(uuid="e", published="2030-01-01T00:00:00Z")),
    ]
    report = ingest(
        b"\n".join(lines),
        source="okta",
        origin="test",
        events_store=mon.events,
        publish=mon.process,
        now=NOW,
    )
    assert (report.records, report.events, report.new, report.dead_lettered) == (8, 2, 2, 6)
    assert mon.events.dead_letter_counts() == {"okta": 6}
    assert report.reasons["timestamp outside the accepted range"] == 2
    reasons = sorted(d.reason.split(":")[0] for d in mon.events.dead_letters())
    assert reasons[0] == "not JSON" and any("larger than" in r for r in reasons)
    assert {d.line_no for d in mon.events.dead_letters()} == {2, 3, 4, 5, 7, 8}


def test_ingest_accepts_vendor_pages(sqlite_store: Store) -> None:
    mon = Monitor(sqlite_store)
    page = orjson.dumps(
        {
            "kind": "admin#reports#activities",
            "items": [R.google(), R.google("login", "login_success")],
        }
    )
    # the two activities share id.uniqueQualifier+time in the fixture: make them distinct
    doc = orjson.loads(page)
    doc["items"][1]["id"]["uniqueQualifier"] = "-1"
    rep = ingest(
        orjson.dumps(doc),
        source="google_workspace",
        origin="t",
        events_store=mon.events,
        publish=mon.process,
        now=NOW,
    )
    assert (rep.records, rep.new) == (2, 2)
    graph = orjson.dumps({"@odata.context": "x", "value": [R.entra_signin(), R.entra_audit()]})
    rep = ingest(
        graph, source="entra", origin="t", events_store=mon.events, publish=mon.process, now=NOW
    )
    assert (rep.records, rep.new, rep.dead_lettered) == (2, 2, 0)
