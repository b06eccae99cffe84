"""``/api/v1/respond`` over HTTP: scopes, four eyes by people, problem+json errors."""

from __future__ import annotations

from argon2 import PasswordHasher

from ringfence.identity.accounts import Accounts
from ringfence.identity.settings import IdentitySettings
from tests.api.conftest import Api, bearer
from tests.respond.test_respond import ESTATE


def _personal_token(api: Api, username: str) -> str:
    """A console user's personal token: approvals need a person, not a control-plane token."""
    rt = api.runtime
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    # Analysts without MFA (the default requires it): this test is about four eyes.
    relaxed = IdentitySettings(mfa_required_roles=["admin"])
    api.client.app.state.identity_settings = relaxed  # type: ignore[attr-defined]
    accounts = Accounts(rt.store, rt.vault, rt.clock, relaxed, cheap)
    user = accounts.create_user(username, roles=["security-analyst"], password="x" * 16)
    issued = accounts.issue_token(user.id, "responder", ["read", "write"], 7, actor="test")
    return issued.token.get_secret_value()


def test_incident_over_the_api(api: Api) -> None:
    applied = api.client.post(
        "/api/v1/estate/apply",
        content=ESTATE,
        headers={**api.rw, "Content-Type": "application/yaml"},
    )
    assert applied.status_code == 200, applied.text
    books = api.get("/api/v1/respond/playbooks").json()
    assert [b["name"] for b in books] == ["contain-integration"]
    body = {"playbook": "contain-integration", "integration": "crm-sync", "reason": "leak"}
    assert (
        api.client.post("/api/v1/respond/incidents", json=body, headers=api.ro).status_code == 403
    )
    made = api.post("/api/v1/respond/incidents", json=body)
    assert made.status_code == 201, made.text
    incident = made.json()["id"]
    assert made.headers["Location"].endswith(incident)
    assert made.json()["status"] == "awaiting_approval"
    url = f"/api/v1/respond/incidents/{incident}/steps/4/approve"
    same = api.post(url, json={"comment": "me again"})  # the opener, and not a person either
    assert same.status_code == 403 and same.json()["code"] == "person_required"
    automation = bearer(api.token("second-responder", ["read", "write"]))
    bot = api.client.post(url, json={"comment": "confirmed"}, headers=automation)
    assert bot.status_code == 403 and bot.json()["code"] == "person_required"
    second = bearer(_personal_token(api, "bob@example.com"))
    ok = api.client.post(url, json={"comment": "confirmed"}, headers=second)
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "contained"
    again = api.client.post(url, json={}, headers=second)
    assert again.status_code == 409
    listed = api.client.get("/api/v1/respond/incidents?status=contained", headers=api.ro)
    assert [i["id"] for i in listed.json()] == [incident]
    evidence = api.client.get(f"/api/v1/respond/incidents/{incident}/evidence", headers=api.ro)
    assert len(evidence.json()[0]["sha256"]) == 64
    close = f"/api/v1/respond/incidents/{incident}/close"
    assert api.post(close, json={"summary": "x"}).status_code == 422
    assert api.post(close, json={"summary": "re-registered"}).json()["status"] == "closed"


def test_bad_requests_are_clear(api: Api) -> None:
    missing = api.post(
        "/api/v1/respond/incidents", json={"playbook": "nope", "integration": "crm-sync"}
    )
    assert missing.status_code == 404 and "no playbook" in missing.json()["detail"]
    extra = api.post(
        "/api/v1/respond/incidents", json={"playbook": "p", "integration": "i", "x": 1}
    )
    assert extra.status_code == 422
    assert api.get("/api/v1/respond/incidents?status=bogus").status_code == 422
    assert api.get("/api/v1/respond/incidents/nope").status_code == 404
    assert api.client.get("/api/v1/respond/incidents").status_code == 401
