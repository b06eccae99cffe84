from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from ringfence.api import create_app
from ringfence.cli.app import app as cli_app
from ringfence.runtime import Runtime
from ringfence.store.apitokens import ApiTokens
from ringfence.store.models import AuditRecord
from tests.monitor import records as R


@pytest.fixture
def client(runtime: Runtime) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str]]]:
    tokens = ApiTokens(runtime.store, runtime.clock)
    rw = tokens.issue("shipper", ["read", "write"], 30).token.get_secret_value()
    ro = tokens.issue("reader", ["read"], 30).token.get_secret_value()
    with TestClient(create_app(runtime), raise_server_exceptions=False) as c:
        yield c, {"Authorization": f"Bearer {rw}"}, {"Authorization": f"Bearer {ro}"}


def ndjson(*recs: object) -> bytes:
    return b"\n".join(orjson.dumps(r) for r in recs) + b"\n"


URL = "/api/v1/monitor/ingest/okta"
JSON = {"Content-Type": "application/json"}


def test_push_ndjson_stores_and_dead_letters(client: tuple) -> None:
    c, rw, _ = client
    body = ndjson(R.okta(uuid="a"), R.okta(uuid="b")) + b"garbage\n"
    r = c.post(URL, content=body, headers={**rw, **JSON})
    assert r.status_code == 200, r.text
    assert r.json()["new"] == 2 and r.json()["dead_lettered"] == 1
    again = c.post(URL, content=body, headers={**rw, **JSON}).json()
    assert again["new"] == 0 and again["duplicates"] == 2
    events = c.get("/api/v1/monitor/events", headers=rw).json()
    assert len(events) == 2 and events[0]["raw"]["eventType"] == "user.session.start"
    assert c.get("/api/v1/monitor/dead-letters", headers=rw).json() == {"okta": 2}


def test_each_push_is_audited_with_who_and_the_event_time_bounds(
    client: tuple, runtime: Runtime
) -> None:
    c, rw, _ = client
    body = ndjson(R.okta(uuid="a", published="2026-01-02T03:04:05.000Z"), R.okta(uuid="b"))
    assert c.post(URL, content=body, headers={**rw, **JSON}).status_code == 200
    assert c.post(URL, content=b"garbage\n", headers={**rw, **JSON}).status_code == 200
    with runtime.store.session() as s:
        pushes = s.scalars(select(AuditRecord).where(AuditRecord.action == "monitor.ingest")).all()
    assert len(pushes) == 1  # nothing accepted, nothing to attribute
    (push,) = pushes
    assert (push.actor, push.entity_type, push.entity_id) == (
        "token:shipper",
        "event_source",
        "okta",
    )
    after = push.after or {}
    assert after["events"] == 2 and after["earliest"].startswith("2026-01-02T03:04:05")
    assert after["latest"] >= after["earliest"]


def test_suppliers_are_recorded_before_their_events_are_published(runtime: Runtime) -> None:
    """The record of who pushed a batch exists before that batch can raise an alert (else a
    watcher could open an incident, and the pusher approve it, before the record was written)."""
    from ringfence.monitor.ingest import BATCH, ingest
    from ringfence.monitor.storage import EventStore

    order: list[tuple[str, int]] = []
    data = ndjson(*(R.okta(uuid=f"u{i}") for i in range(BATCH + 5)))
    report = ingest(
        data,
        source="okta",
        origin="test",
        events_store=EventStore(runtime.store),
        publish=lambda batch: order.append(("publish", len(batch))) or len(batch),
        now=runtime.clock.now(),
        before_publish=lambda batch: order.append(("record", len(batch))),
    )
    assert report.new == BATCH + 5
    assert order == [("record", BATCH), ("publish", BATCH), ("record", 5), ("publish", 5)]


def test_push_json_array(client: tuple) -> None:
    c, rw, _ = client
    r = c.post("/api/v1/monitor/ingest/slack", json=[R.slack()], headers=rw)
    assert r.status_code == 200 and r.json()["new"] == 1


def test_push_requires_authentication_and_write_scope(client: tuple) -> None:
    c, _, ro = client
    body = ndjson(R.okta())
    r = c.post(URL, content=body, headers=JSON)
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    assert c.post(URL, content=body, headers={**ro, **JSON}).status_code == 403
    bad = {"Authorization": "Bearer rf_cp_notarealtoken000000000000", **JSON}
    assert c.post(URL, content=body, headers=bad).status_code == 401


def test_push_bad_inputs_are_problems(client: tuple) -> None:
    c, rw, _ = client
    r = c.post("/api/v1/monitor/ingest/splunk", content=b"{}", headers={**rw, **JSON})
    assert r.status_code == 404 and r.json()["code"] == "unknown_source"
    r = c.post(URL, content=b"  \n", headers={**rw, **JSON})
    assert r.status_code == 400
    r = c.get("/api/v1/monitor/events?since=whenever", headers=rw)
    assert r.status_code == 400 and "since" in r.json()["detail"]
    r = c.get("/api/v1/monitor/events?where=novalue", headers=rw)
    assert r.status_code == 400


@pytest.mark.parametrize(
    "query",
    [
        "class_uid=" + "9" * 30,  # past SQLite's 64-bit INTEGER
        "class_uid=-" + "9" * 30,
        "since=99999999999d",  # past a C int of seconds
        "since=999999999d",  # a timedelta that leaves the calendar
        "until=0001-01-01T00:00:00+14:00",  # before year 1 in UTC
    ],
)
def test_out_of_range_hunt_parameters_are_problems_not_500(client: tuple, query: str) -> None:
    c, rw, _ = client
    r = c.get(f"/api/v1/monitor/events?{query}", headers=rw)
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"] == "application/problem+json"
    field = query.split("=", 1)[0]
    assert field in r.text, r.json()


def _cli(tmp_path: Path, *args: str) -> object:
    return CliRunner().invoke(cli_app, [*args, "--data-dir", str(tmp_path / "data")])


def test_cli_ingest_hunt_and_dead_letters(runtime: Runtime, tmp_path: Path) -> None:
    f = tmp_path / "okta.ndjson"
    f.write_bytes(ndjson(R.okta(uuid="a"), R.okta("user.mfa.factor.deactivate", uuid="b")) + b"{\n")
    res = _cli(tmp_path, "ingest", "--source", "okta", str(f), "-o", "json")
    assert res.exit_code == 0, res.output
    assert orjson.loads(res.output)["new"] == 2
    res = _cli(tmp_path, "hunt", "--class", "account_change", "-o", "json")
    out = orjson.loads(res.output)
    assert [e["action"] for e in out] == ["user.mfa.factor.deactivate"]
    res = _cli(
        tmp_path, "hunt", "-w", "raw.outcome.result=success", "--since", "36500d", "-o", "json"
    )
    assert len(orjson.loads(res.output)) == 2
    res = _cli(tmp_path, "monitor", "dead-letters", "-o", "json")
    assert orjson.loads(res.output)["counts"] == {"okta": 1}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest", "--source", "nope", "x"], "unknown source"),
        (["ingest", "--source", "okta", "/nonexistent/file"], "cannot read"),
        (["hunt", "--since", "yesterday"], "bad --since"),
        (["hunt", "--class", "martian"], "unknown event class"),
        (["monitor", "purge", "-r", "okta=many"], "SOURCE=DAYS"),
    ],
)
def test_cli_bad_input_is_one_clear_error(
    runtime: Runtime, tmp_path: Path, args: list[str], message: str
) -> None:
    res = _cli(tmp_path, *args)
    assert res.exit_code != 0
    assert message in str(res.exception) or message in res.output


def test_alerts_api(client: tuple, runtime: Runtime) -> None:
    c, rw, ro = client
    r = c.post(
        "/api/v1/monitor/ingest/okta",
        headers={**rw, **JSON},
        content=ndjson(R.okta("user.mfa.factor.deactivate")),
    )
    assert r.status_code == 200
    alerts = c.get("/api/v1/monitor/alerts", headers=ro).json()
    assert [a["finding_info"]["analytic"]["uid"] for a in alerts] == ["rf_okta_mfa_removed"]
    aid = alerts[0]["id"]
    assert c.post(f"/api/v1/monitor/alerts/{aid}/ack", headers=ro).status_code == 403
    assert (
        c.post(f"/api/v1/monitor/alerts/{aid}/ack", headers=rw).json()["status"] == "acknowledged"
    )
    assert c.post(f"/api/v1/monitor/alerts/{aid}/snooze", headers=rw).status_code == 404
    assert c.post("/api/v1/monitor/alerts/nope/close", headers=rw).status_code == 404
    assert c.get("/api/v1/monitor/alerts?status=weird", headers=rw).status_code == 400


def test_purge_uses_monitor_yaml_retention(runtime: Runtime, tmp_path: Path) -> None:
    (tmp_path / "data" / "monitor.yaml").write_text("retention_days: {default: 30, okta: 1}\n")
    f = tmp_path / "o.ndjson"
    f.write_bytes(ndjson(R.okta(uuid="old", published="2025-12-01T00:00:00Z"), R.okta(uuid="new")))
    assert _cli(tmp_path, "ingest", "-s", "okta", str(f)).exit_code == 0
    res = _cli(tmp_path, "monitor", "purge", "-o", "json")
    # the CLI runs on the system clock: both records are older than okta's 1 day
    assert orjson.loads(res.output) == {"removed": {"okta": 2}}
    (tmp_path / "data" / "monitor.yaml").write_text("retention_days: {okta: 0}\n")
    res = _cli(tmp_path, "monitor", "purge")
    assert res.exit_code != 0 and "must be >= 1" in str(res.exception)


def test_cli_ingest_records_who_supplied_the_events(runtime: Runtime, tmp_path: Path) -> None:
    """As the push endpoint does: respond's four-eyes check reads these records, so whoever
    loads records from a file cannot approve the response to the incident they raise."""
    f = tmp_path / "okta.ndjson"
    f.write_bytes(ndjson(R.okta(uuid="a", published="2026-01-02T03:04:05.000Z")) + b"{\n")
    res = _cli(tmp_path, "ingest", "--source", "okta", str(f), "--by", "mallory", "-o", "json")
    assert res.exit_code == 0, res.output
    f.write_bytes(ndjson(R.okta(uuid="b")))
    assert _cli(tmp_path, "ingest", "--source", "okta", str(f)).exit_code == 0
    with runtime.store.session() as s:
        pushes = s.scalars(
            select(AuditRecord)
            .where(AuditRecord.action == "monitor.ingest")
            .order_by(AuditRecord.id)
        ).all()
    assert [(p.actor, p.entity_type, p.entity_id) for p in pushes] == [
        ("mallory", "event_source", "okta"),
        ("cli", "event_source", "okta"),
    ]
    after = pushes[0].after or {}
    assert after["events"] == 1 and after["earliest"].startswith("2026-01-02T03:04:05")
