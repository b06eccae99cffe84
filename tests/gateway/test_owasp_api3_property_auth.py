"""API3:2023 Broken Object Property Level Authorization — mass assignment, excess data."""

from __future__ import annotations

from tests.gateway.conftest import Env


async def test_mass_assignment_extra_property_is_refused(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.http.post(
        "/crm/contacts",
        json={"name": "Ann", "role": "admin"},
        headers={"authorization": f"Bearer {token}"},
    )
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "schema_violation"
    assert body["errors"][0]["problem"] == "additionalProperties"
    assert "role" in body["errors"][0]["properties"]


async def test_valid_body_passes_schema(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.http.post(
        "/crm/contacts", json={"name": "Ann"}, headers={"authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200
    assert r.json()["body"] == '{"name":"Ann"}'


async def test_schema_errors_never_echo_values(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.http.post(
        "/crm/contacts",
        json={"name": 12345678987654321},
        headers={"authorization": f"Bearer {token}"},
    )
    assert r.status_code == 400
    assert "12345678987654321" not in r.text


async def test_excess_response_properties_are_refused(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.get("/crm/extra", token)
    assert r.status_code == 502
    assert r.json()["code"] == "upstream_schema_violation"
    assert "leak" not in r.text


async def test_sensitive_fields_in_response_are_redacted(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.get("/crm-r/pii", token)
    assert r.status_code == 200
    data = r.json()
    assert data["email"] == "[REDACTED:email_address]"
    assert data["card"] == "[REDACTED:credit_card_number]"
    assert data["name"] == "Ann"
    dlp = env.audit.events[-1].dlp
    assert dlp["response"]["types"] == {"email_address": 1, "credit_card_number": 1}
    assert "ann@example.com" not in repr(env.audit.events[-1].to_dict())


async def test_a_repeated_key_s_first_copy_is_checked_too(env: Env) -> None:
    """orjson keeps the last copy; an upstream keeping the first would get one nobody checked
    (session 11: {"name": 12345, "name": "Ann"} passed the schema as "Ann")."""
    token = await env.token(env.a)
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    for body in (b'{"name": 12345, "name": "Ann"}', b'{"name": {"$gt": ""}, "name": "Ann"}'):
        r = await env.http.post("/crm/contacts", content=body, headers=headers)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["code"] == "duplicate_key", r.text
        assert "12345" not in r.text
    r = await env.http.post("/crm/contacts", content=b'{"name": "Ann", "name": 1}', headers=headers)
    assert r.json()["code"] == "schema_violation"  # the last copy, as before
    r = await env.http.post(
        "/crm/contacts", content=b'{"name": "Ann", "name": "Bea"}', headers=headers
    )
    assert r.status_code == 200, r.text  # every copy valid: either reading is checked
