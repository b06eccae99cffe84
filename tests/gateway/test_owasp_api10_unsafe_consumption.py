"""API10:2023 Unsafe Consumption of APIs — the upstream is not trusted either."""

from __future__ import annotations

from tests.gateway.conftest import Env


async def test_fifty_megabyte_upstream_response_is_cut_off(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.get("/crm/huge", token)
    assert r.status_code == 502
    assert r.json()["code"] == "upstream_too_large"
    assert len(r.content) < 10_000


async def test_upstream_redirect_is_refused(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.get("/crm/redirect", token)
    assert r.status_code == 502
    assert "location" not in r.headers


async def test_upstream_response_with_pii_above_clearance_is_blocked(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.get("/crm/pii", token)
    assert r.status_code == 403
    body = r.json()
    assert body["code"] == "dlp_blocked"
    assert set(body["data_types"]) == {"email_address", "credit_card_number"}
    assert "ann@example.com" not in r.text and "4539" not in r.text


async def test_slow_upstream_times_out(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.get("/crm/slow", token)
    assert r.status_code == 504


async def test_upstream_server_headers_are_not_passed_through(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.get("/crm/contacts", token)
    assert "set-cookie" not in r.headers
    assert r.headers.get("server", "") != "upstream/1.0"


async def test_encoded_upstream_body_that_cannot_be_inspected_is_refused(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.get("/crm/gzip", token)
    assert r.status_code == 502
    assert r.json()["code"] == "upstream_encoding"
