"""End-to-end smoke: a token, a forwarded request with the upstream credential injected."""

from __future__ import annotations

from tests.gateway.conftest import UPSTREAM_SECRET, Env


async def test_allowed_request_is_forwarded_with_brokered_credential(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.get("/crm/contacts?limit=5", token, headers={"x-forwarded-for": "1.2.3.4"})
    assert r.status_code == 200, r.text
    echo = r.json()
    assert echo["path"] == "/api/contacts"
    assert echo["query"] == "limit=5"
    assert echo["headers"]["authorization"] == f"Bearer {UPSTREAM_SECRET}"
    assert "x-forwarded-for" not in echo["headers"]
    assert echo["headers"]["x-request-id"] == r.headers["x-request-id"]
    assert "set-cookie" not in r.headers
    assert r.headers["ratelimit-limit"] == "1000"
    event = env.audit.events[-1]
    assert event.decision == "allow" and event.status == 200
    assert event.integration == "hr-to-crm" and event.path_template == "/crm/contacts"
    assert token not in repr(event.to_dict()) and UPSTREAM_SECRET not in repr(event.to_dict())
