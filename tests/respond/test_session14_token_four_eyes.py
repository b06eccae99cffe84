"""Four eyes with control-plane tokens (session 14): a token's requests are its creator's.

Before, ``token:NAME`` was "nobody" to the four-eyes check, so one person could open an
incident (or push the records behind its alert) with a token and approve its irreversible
steps with their own console account. A token whose creator is not a person (made by the
CLI without ``--by``, or before creators were recorded) fails closed: no one can approve what
it asked for until ``ringfence token attribute`` names its person. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ringfence.core.clock import FixedClock
from ringfence.core.errors import ConflictError, PermissionDeniedError, ValidationError
from ringfence.inventory.estate import apply_estate, parse_estate
from ringfence.monitor.models import Alert, MonitorEvent
from ringfence.monitor.storage import EventStore
from ringfence.respond import Responder
from ringfence.runtime import Runtime
from ringfence.store import audit
from ringfence.store.apitokens import ApiTokens
from tests.api.conftest import Api, bearer
from tests.respond.test_api import _personal_token

ESTATE = """\
apiVersion: ringfence/v1
people:
  - {email: ann@example.com, name: Ann}
vendors:
  - {name: Acme}
apps:
  - {name: crm, vendor: Acme, owner: ann@example.com, clearance: confidential}
  - {name: chat, vendor: Acme, owner: ann@example.com, clearance: internal}
integrations:
  - {name: crm-sync, source: crm, destination: chat, owner: ann@example.com, scopes: [read]}
playbooks:
  - name: contain-integration
    covers: [app_to_app]
    trigger: {rules: [rf_test_rule], min_severity: high}
    steps:
      - {action: quarantine_integration}
      - {action: revoke_integration}
"""


@pytest.fixture
def rt(any_runtime: Runtime) -> Runtime:
    apply_estate(any_runtime.store, parse_estate(ESTATE), actor="test", clock=any_runtime.clock)
    return any_runtime


def _open_with_token(rt: Runtime, token: str) -> str:
    return Responder(rt.store, rt.vault, rt.clock).start(
        "contain-integration", "crm-sync", actor=f"token:{token}", reason="leak"
    )


def test_the_creator_of_the_token_that_opened_an_incident_cannot_approve_it(rt: Runtime) -> None:
    ApiTokens(rt.store, rt.clock).issue("soar", ["read", "write"], created_by="user:alice")
    r = Responder(rt.store, rt.vault, rt.clock)
    incident = _open_with_token(rt, "soar")
    for alice in ("user:alice", "alice", "user:ALICE"):  # console, CLI --by, another spelling
        with pytest.raises(PermissionDeniedError, match="token 'soar', which they created") as e:
            r.approve(incident, 2, actor=alice)
        assert e.value.code == "four_eyes"
        with pytest.raises(PermissionDeniedError, match="four eyes"):
            r.skip(incident, 2, actor=alice, comment="not needed")
    r.approve(incident, 2, actor="user:bob")
    assert r.show(incident)["status"] == "contained"


def test_a_token_without_a_person_as_creator_fails_closed_until_attributed(rt: Runtime) -> None:
    tokens = ApiTokens(rt.store, rt.clock)
    legacy = tokens.issue("legacy", ["read", "write"]).id  # creator unknown (before 0019)
    tokens.issue("bootstrap", ["read", "write"], created_by="cli")
    r = Responder(rt.store, rt.vault, rt.clock)
    for name in ("legacy", "bootstrap"):
        incident = _open_with_token(rt, name)
        waiting = r.show(incident)["timeline"][-1]["message"]
        assert "no one can approve it yet" in waiting and "token attribute" in waiting
        for anyone in ("user:bob", "carol"):
            with pytest.raises(PermissionDeniedError, match="token attribute") as e:
                r.approve(incident, 2, actor=anyone)
            assert e.value.code == "four_eyes"
    stuck = r.incidents("awaiting_approval")[-1]["id"]  # the legacy token's
    assert tokens.attribute(legacy, "carol", actor="cli") == "user:carol"
    with pytest.raises(PermissionDeniedError, match="four eyes"):
        r.approve(stuck, 2, actor="user:carol")
    r.approve(stuck, 2, actor="user:bob")
    assert r.show(stuck)["status"] == "contained"
    records = audit.verify(rt.store)
    assert records.ok


def test_a_recorded_creator_is_never_replaced(rt: Runtime) -> None:
    tokens = ApiTokens(rt.store, rt.clock)
    mine = tokens.issue("soar", ["read"], created_by="user:alice").id
    with pytest.raises(ConflictError, match="created by user:alice") as e:
        tokens.attribute(mine, "bob", actor="cli")
    assert e.value.code == "creator_recorded"
    for bad in ("", "  ", "a:b", "x" * 201, "tab\there"):
        with pytest.raises(ValidationError):
            tokens.issue("t", ["read"], created_by=bad)
    with pytest.raises(ValidationError, match="no API token"):
        tokens.attribute("nope", "bob", actor="cli")


def test_every_token_of_the_name_alive_at_the_time_counts(rt: Runtime, clock: FixedClock) -> None:
    """Audit records and incidents name a token by name, which is not unique."""
    tokens = ApiTokens(rt.store, rt.clock)
    old = tokens.issue("ci", ["read", "write"], created_by="user:alice").id
    clock.advance(seconds=10)
    tokens.revoke(old)
    clock.advance(seconds=10)
    tokens.issue("ci", ["read", "write"], created_by="user:bob")
    tokens.issue("ci", ["read", "write"], created_by="user:dave")
    clock.advance(seconds=10)
    incident = _open_with_token(rt, "ci")
    clock.advance(seconds=10)
    tokens.issue("ci", ["read", "write"], created_by="user:erin")  # made afterwards
    r = Responder(rt.store, rt.vault, rt.clock)
    for creator in ("user:bob", "user:dave"):
        with pytest.raises(PermissionDeniedError, match="four eyes"):
            r.approve(incident, 2, actor=creator)
    r.approve(incident, 2, actor="user:alice")  # her "ci" was revoked before the incident
    assert r.show(incident)["status"] == "contained"


def test_whoever_created_the_token_that_pushed_the_alerting_events_cannot_approve(
    rt: Runtime, clock: FixedClock
) -> None:
    tokens = ApiTokens(rt.store, rt.clock)
    tokens.issue("shipper", ["read", "write"], created_by="user:mallory")
    tokens.issue("old-shipper", ["read", "write"])  # creator unknown
    r = Responder(rt.store, rt.vault, clock)
    seen = clock.now() - timedelta(minutes=3)
    EventStore(rt.store)._ensure_partitions([seen.date()])  # PostgreSQL: a day's partition

    def alert(event: str, pusher: str) -> None:
        with rt.store.session() as s:
            s.add(
                MonitorEvent(
                    id=event, ts=seen, source=event, product="x", service="x", class_uid=3002,
                    activity_id=1, action="a", actor=None, src_ip=None, status_id=1,
                    severity_id=1, ingested_at=seen, body=b"{}",
                )
            )  # fmt: skip
            related = [{"uid": event, "class_uid": 3002, "time": 0}]
            s.add(
                Alert(
                    dedup_key="rf_test_rule|crm-sync", rule_id="rf_test_rule", title="t",
                    severity="critical", status="new", first_seen=seen, last_seen=seen,
                    count=1, finding={"finding_info": {"related_events": related}},
                )
            )  # fmt: skip
            bounds = {"earliest": seen.isoformat(), "latest": seen.isoformat()}
            audit.append(
                s, actor=pusher, action="monitor.ingest", entity_type="event_source",
                entity_id=event, after=bounds, clock=clock,
            )  # fmt: skip

    alert("ev-1", "token:shipper")
    clock.advance(seconds=5)
    (incident,) = r.watch_alerts()
    with pytest.raises(PermissionDeniedError, match="pushed records") as e:
        r.approve(incident, 2, actor="user:mallory")
    assert e.value.code == "four_eyes"
    r.approve(incident, 2, actor="user:carol")
    assert r.show(incident)["status"] == "contained"

    r.close(incident, actor="user:carol", summary="done here")
    clock.advance(seconds=5)
    alert("ev-2", "token:old-shipper")  # a second alert, pushed with the unknown token
    clock.advance(seconds=5)
    (second,) = r.watch_alerts()
    with pytest.raises(PermissionDeniedError, match="token attribute") as e:
        r.approve(second, 2, actor="user:carol")
    assert e.value.code == "four_eyes"


def test_over_the_api_a_token_is_its_creator(api: Api) -> None:
    """Alice opens an incident with a control-plane token she created, then approves with her
    own console account (personal token): refused, 403 four_eyes problem+json."""
    applied = api.client.post(
        "/api/v1/estate/apply",
        content=ESTATE,
        headers={**api.rw, "Content-Type": "application/yaml"},
    )
    assert applied.status_code == 200, applied.text
    alice = bearer(_personal_token(api, "alice"))
    hers = bearer(api.token("alice-script", ["read", "write"], created_by="user:alice"))
    body = {"playbook": "contain-integration", "integration": "crm-sync", "reason": "leak"}
    made = api.client.post("/api/v1/respond/incidents", json=body, headers=hers)
    assert made.status_code == 201, made.text
    url = f"/api/v1/respond/incidents/{made.json()['id']}/steps/2/approve"
    refused = api.client.post(url, json={"comment": "fine"}, headers=alice)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "four_eyes"
    assert "token 'alice-script', which they created" in refused.json()["detail"]
    bob = bearer(_personal_token(api, "bob"))
    ok = api.client.post(url, json={"comment": "confirmed"}, headers=bob)
    assert ok.status_code == 200 and ok.json()["status"] == "contained"
