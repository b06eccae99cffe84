"""``POST /api/v1/integrations/{ref}/revoke`` needs a second person (session 14).

Revoked is final; a playbook's revoke_integration step always waits for a second person, but
the REST route revoked at once for anyone with ``write``, so four eyes protected only
playbooks. Now the route quarantines (reversible: one person may) and opens a request that a
person other than the requester — for a control-plane token, other than its creator —
approves through the incident. SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from ringfence.store.apitokens import ApiTokens
from tests.api.conftest import Api, bearer, seed
from tests.respond.test_api import _personal_token

URL = "/api/v1/integrations/crm-to-hris/revoke"


def _actions(api: Api, entity_id: str) -> list[tuple[str, str]]:
    items: list[dict[str, Any]] = api.get(
        "/api/v1/audit", params={"order": "asc", "limit": 1000, "entity_id": entity_id}
    ).json()["items"]
    return [(a["action"], a["actor"]) for a in items if a["action"] != "integration.create"]


def test_a_direct_revoke_waits_for_a_second_person(any_api: Api) -> None:
    api = any_api
    seed(api)
    integ = api.get("/api/v1/integrations/crm-to-hris").json()["id"]
    alice = bearer(_personal_token(api, "alice"))
    hers = bearer(api.token("alice-script", ["read", "write"], created_by="user:alice"))

    r = api.client.post(URL, json={"reason": "IR-7: leaked key"}, headers=hers)
    assert r.status_code == 202, r.text
    out = r.json()
    assert out["changed"] is True and out["status"] == "awaiting_approval"
    assert out["integration"]["status"] == "quarantined"  # stopped while it waits
    assert r.headers["Location"] == f"/api/v1/respond/incidents/{out['incident']}"
    assert out["approve"] == f"/api/v1/respond/incidents/{out['incident']}/steps/2/approve"
    assert ("integration.revoke", f"incident:{out['incident']}") not in _actions(api, integ)

    again = api.client.post(URL, headers=alice)  # the same request, not a second one
    assert again.status_code == 202 and again.json()["incident"] == out["incident"]
    assert again.json()["changed"] is False

    for same_person in (alice, hers):
        refused = api.client.post(out["approve"], json={}, headers=same_person)
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] in {"four_eyes", "person_required"}
    refused = api.client.post(out["approve"], json={}, headers=alice)
    assert "which they created" in refused.json()["detail"]
    assert api.get("/api/v1/integrations/crm-to-hris").json()["status"] == "quarantined"

    bob = bearer(_personal_token(api, "bob"))
    ok = api.client.post(out["approve"], json={"comment": "confirmed"}, headers=bob)
    assert ok.status_code == 200 and ok.json()["status"] == "contained"
    assert api.get("/api/v1/integrations/crm-to-hris").json()["status"] == "revoked"
    assert _actions(api, integ) == [
        ("incident.open", "token:alice-script"),
        ("integration.quarantine", f"incident:{out['incident']}"),
        ("integration.revoke", f"incident:{out['incident']}"),
    ]
    done = api.post(URL)
    assert done.status_code == 200 and done.json()["changed"] is False


def test_a_revoke_requested_by_a_token_without_a_person_cannot_be_approved(api: Api) -> None:
    seed(api)
    legacy = ApiTokens(api.runtime.store, api.clock).issue("legacy", ["read", "write"])
    r = api.client.post(URL, headers=bearer(legacy.token.get_secret_value()))
    assert r.status_code == 202
    bob = bearer(_personal_token(api, "bob"))
    refused = api.client.post(r.json()["approve"], json={}, headers=bob)
    assert refused.status_code == 403 and refused.json()["code"] == "four_eyes"
    assert "token attribute" in refused.json()["detail"]
    ApiTokens(api.runtime.store, api.clock).attribute(legacy.id, "carol", actor="cli")
    assert api.client.post(r.json()["approve"], json={}, headers=bob).status_code == 200


def test_quarantine_stays_one_person_and_bad_revokes_are_clear(api: Api) -> None:
    seed(api)
    q = api.post("/api/v1/integrations/chat-bot/quarantine", {"reason": "looks odd"})
    assert q.status_code == 200 and q.json()["integration"]["status"] == "quarantined"
    for url, body, status in [
        ("/api/v1/integrations/nope/revoke", None, 404),
        (URL, {"reason": 5}, 422),
        (URL, {"reason": "x", "now": True}, 422),
        (URL, ["x"], 422),
    ]:
        r = api.post(url, body)
        assert r.status_code == status, (url, body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert api.client.post(URL, headers=api.ro).status_code == 403  # read-only token
    assert api.get("/api/v1/integrations/crm-to-hris").json()["status"] == "active"


def test_the_openapi_document_shows_the_request(api: Api) -> None:
    op = api.client.get("/api/v1/openapi.json").json()["paths"][
        "/api/v1/integrations/{ref}/revoke"
    ]["post"]
    assert {"200", "202"} <= set(op["responses"])
    assert "second person" in op["description"]
