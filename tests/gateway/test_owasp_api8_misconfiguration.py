"""API8:2023 Security Misconfiguration — deny by default, no TRACE, fail closed, generic errors."""

from __future__ import annotations

import asyncio

import httpx

from ringfence.gateway.app import build_gateway
from ringfence.gateway.audit import MemoryAuditSink
from ringfence.gateway.config import GatewayConfig
from ringfence.gateway.ratelimit import RateLimiter
from tests.gateway.conftest import Env
from tests.gateway.upstream import free_port


async def test_unknown_route_is_404_problem_json(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.get("/nowhere/at/all", token)
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "route_not_found"


async def test_trace_is_405(env: Env) -> None:
    r = await env.http.request("TRACE", "/crm/contacts")
    assert r.status_code == 405


async def test_wrong_method_is_405_with_allow(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.http.put("/crm/contacts", json={}, headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 405
    assert "POST" in r.headers["allow"] and "GET" in r.headers["allow"]


async def test_wrong_content_type_is_415(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.http.post(
        "/crm/contacts",
        content=b"<x/>",
        headers={"authorization": f"Bearer {token}", "content-type": "application/xml"},
    )
    assert r.status_code == 415


async def test_invalid_json_is_400(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.http.post(
        "/crm/contacts",
        content=b'{"name": ',
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_json"


async def test_redis_down_fails_closed_with_503(env: Env) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    audit = MemoryAuditSink()
    gw = build_gateway(
        env.rt.store,
        env.rt.vault,
        config=GatewayConfig(),
        redis_url=dead,
        clock=env.rt.clock,
        audit=audit,
    )
    token = await env.token(env.a)
    transport = httpx.ASGITransport(app=gw)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
        r = await http.get("/crm/contacts", headers={"authorization": f"Bearer {token}"})
        ready = await http.get("/readyz")
    await gw.shutdown()
    assert r.status_code == 503
    assert r.json()["code"] == "ratelimit_unavailable"
    assert audit.events[0].decision == "error"
    assert ready.status_code == 503


async def test_stale_policy_fails_closed(env: Env) -> None:
    token = await env.token(env.a)
    env.rt.store.dispose()
    env.gateway.holder._store.url = "sqlite:////nonexistent/dir/x.db"
    from ringfence.store.db import Store

    env.gateway.holder._store = Store("sqlite:////nonexistent/dir/x.db")
    # Let a reload the watcher had already started on the old store finish (it would mark the
    # policy fresh again); every later reload fails on the broken store and leaves it stale.
    await asyncio.sleep(0.6)
    env.gateway.holder._checked_at -= 60
    r = await env.get("/crm/contacts", token)
    assert r.status_code == 503
    assert r.json()["code"] == "policy_stale"


async def test_memory_limiter_is_default(env: Env) -> None:
    assert isinstance(env.gateway.limiter, RateLimiter)


async def _raw(env: Env, path: bytes, query: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    """Call the ASGI app directly with bytes an HTTP client library would refuse to send."""
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": path.decode(),
        "raw_path": path,
        "query_string": query,
        "headers": headers,
        "client": ("127.0.0.1", 1),
    }
    await env.gateway(scope, receive, send)
    return int(sent[0]["status"])  # type: ignore[call-overload]


async def test_request_line_and_header_injection_is_refused(env: Env) -> None:
    token = await env.token(env.a)
    auth = [(b"authorization", f"Bearer {token}".encode())]
    assert await _raw(env, b"/crm/contacts", b"a=1", auth) == 200
    assert await _raw(env, b"/crm/contacts", b"a=1 HTTP/1.1\r\nHost: evil", auth) == 400
    assert await _raw(env, b"/crm/contacts", b"", [*auth, (b"x-note", b"a\r\nHost: evil")]) == 400
    dup = [*auth, (b"authorization", b"Bearer other")]
    assert await _raw(env, b"/crm/contacts", b"", dup) == 400
