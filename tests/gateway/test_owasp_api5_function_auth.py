"""API5:2023 Broken Function Level Authorization — scopes per method and route."""

from __future__ import annotations

from tests.gateway.conftest import Env


async def test_read_write_token_cannot_delete(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.http.delete("/crm/contacts/42", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 403
    assert r.json()["code"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in r.headers["www-authenticate"]


async def test_read_only_token_cannot_write(env: Env) -> None:
    token = await env.token(env.a, scope="crm.read")
    r = await env.http.post(
        "/crm/contacts", json={"name": "x"}, headers={"authorization": f"Bearer {token}"}
    )
    assert r.status_code == 403


async def test_scope_escalation_at_token_endpoint_is_refused(env: Env) -> None:
    assert env.b.client_secret is not None
    r = await env.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "crm.read crm.admin"},
        auth=(env.b.client_id, env.b.client_secret.get_secret_value()),
    )
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_scope"


async def test_integration_not_granted_the_route_is_refused(env: Env) -> None:
    token = await env.token(env.b)  # billing-to-crm is not on crm-r
    r = await env.http.post(
        "/crm-r/notes", json={"t": "x"}, headers={"authorization": f"Bearer {token}"}
    )
    assert r.status_code == 403
    assert r.json()["code"] == "route_not_granted"
