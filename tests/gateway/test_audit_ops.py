"""Audit sinks (memory, JSONL, async callable with spool), health, readiness and metrics."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import inspect

from ringfence.gateway.audit import AuditEvent, CallableAuditSink, JsonlAuditSink
from ringfence.gateway.config import GatewayConfig
from ringfence.runtime import Runtime
from ringfence.store.db import Store
from tests.gateway.conftest import Env


def _event(i: int) -> AuditEvent:
    return AuditEvent(
        time="2026-01-01T00:00:00+00:00",
        request_id=f"r{i}",
        method="GET",
        status=200,
        decision="allow",
        reason="ok",
        latency_ms=1.0,
    )


async def test_jsonl_sink_writes_one_line_per_event(tmp_path: Path) -> None:
    sink = JsonlAuditSink(tmp_path / "audit" / "gw.jsonl", flush_every=0.01)
    for i in range(3):
        sink.emit(_event(i))
    await sink.aclose()
    lines = (tmp_path / "audit" / "gw.jsonl").read_bytes().splitlines()
    assert [orjson.loads(x)["request_id"] for x in lines] == ["r0", "r1", "r2"]
    assert ((tmp_path / "audit" / "gw.jsonl").stat().st_mode & 0o777) == 0o600


async def test_callable_sink_spools_when_the_bus_is_down_and_replays(tmp_path: Path) -> None:
    delivered: list[dict[str, Any]] = []
    bus_up = False

    async def publish(event: dict[str, Any]) -> None:
        if not bus_up:
            raise ConnectionError("bus down")
        delivered.append(event)

    sink = CallableAuditSink(publish, spool=tmp_path / "spool.jsonl")
    for i in range(4):
        sink.emit(_event(i))
    await sink.drain()
    assert delivered == []
    bus_up = True
    assert await sink.replay_spool() == 4
    assert [e["request_id"] for e in delivered] == ["r0", "r1", "r2", "r3"]
    sink.emit(_event(9))
    await sink.aclose()
    assert delivered[-1]["request_id"] == "r9"


async def test_every_request_is_audited_without_secrets(env: Env) -> None:
    token = await env.token(env.a)
    await env.get("/crm/contacts", token)
    await env.http.get("/crm/contacts")  # denied
    await env.get("/nope", token)  # not found
    events = [e for e in env.audit.events if e.route is not None or e.status == 404]
    decisions = [(e.status, e.decision) for e in env.audit.events][-3:]
    assert decisions == [(200, "allow"), (401, "deny"), (404, "deny")]
    dump = orjson.dumps([e.to_dict() for e in env.audit.events]).decode()
    assert token not in dump and "upstream-secret" not in dump
    assert env.a.client_secret is not None
    assert env.a.client_secret.get_secret_value() not in dump
    assert events


async def test_health_readiness_and_metrics(env: Env) -> None:
    assert (await env.http.get("/healthz")).json() == {"status": "ok"}
    ready = (await env.http.get("/readyz")).json()
    assert ready["status"] == "ready" and ready["routes"] == 2
    token = await env.token(env.a)
    await env.get("/crm/contacts", token)
    metrics = (await env.http.get("/metrics")).text
    assert (
        'ringfence_gateway_requests_total{decision="allow",integration="hr-to-crm",route="crm"}'
        in metrics
    )
    assert "ringfence_gateway_request_seconds_bucket" in metrics


def test_gateway_migration_creates_tables(store: Store) -> None:
    # ``store`` is migrated on SQLite and on PostgreSQL
    names = set(inspect(store.engine).get_table_names())
    assert {
        "gateway_routes",
        "gateway_clients",
        "gateway_api_keys",
        "gateway_signing_keys",
        "gateway_revoked_tokens",
    } <= names


async def test_callable_sink_publishes_bursts_and_replays_by_itself(tmp_path: Path) -> None:
    delivered: list[str] = []
    fail_until = 50

    async def publish(event: dict[str, Any]) -> None:
        if len(delivered) == 0 and int(event["request_id"][1:]) < fail_until:
            raise ConnectionError("bus down")
        delivered.append(event["request_id"])

    sink = CallableAuditSink(publish, spool=tmp_path / "spool.jsonl", batch=20, replay_every=0)
    for i in range(250):
        sink.emit(_event(i))
    await sink.drain()
    for i in range(250, 260):  # a later success triggers the replay of the spooled events
        sink.emit(_event(i))
    await sink.drain()
    await sink.aclose()
    assert sorted(delivered) == sorted(f"r{i}" for i in range(260))


async def test_served_gateway_spools_audit_when_the_bus_is_down(
    gw_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    from ringfence.gateway.cli import asgi_app
    from tests.gateway.upstream import free_port

    data_dir = gw_runtime.settings.data_dir
    monkeypatch.setenv("RINGFENCE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("RINGFENCE_MASTER_KEY_FILE", str(data_dir / "master.key"))
    monkeypatch.setenv("RINGFENCE_NATS_URL", f"nats://127.0.0.1:{free_port()}")
    monkeypatch.setenv("RINGFENCE_GATEWAY_DLP_ENGINE", "builtin")
    gw = asgi_app()
    assert isinstance(gw.audit, CallableAuditSink)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gw), base_url="http://g") as c:
        assert (await c.get("/healthz")).status_code == 200
        assert (await c.get("/crm/contacts")).status_code == 401
    await gw.shutdown()
    spool = data_dir / "gateway-audit.spool.jsonl"
    lines = spool.read_bytes().splitlines()
    assert [orjson.loads(x)["status"] for x in lines] == [200, 401]


async def test_metrics_answer_only_the_allowed_addresses(env: Env) -> None:
    """Session 13: /metrics names every integration and route with its traffic; any client
    that reached the gateway could read it. Now only ``metrics_allow`` (default loopback)."""
    assert (await env.http.get("/metrics")).status_code == 200  # 127.0.0.1
    for peer in ("203.0.113.9", "10.1.2.3", "::ffff:203.0.113.9"):
        transport = httpx.ASGITransport(app=env.gateway, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as c:
            r = await c.get("/metrics")
            assert r.status_code == 404, peer
            assert "ringfence_gateway" not in r.text
            assert r.headers["content-type"].startswith("application/problem+json")
    env.gateway.metrics_allow = (ipaddress.ip_network("10.0.0.0/8"),)
    transport = httpx.ASGITransport(app=env.gateway, client=("10.1.2.3", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as c:
        assert (await c.get("/metrics")).status_code == 200
    assert (await env.http.get("/metrics")).status_code == 404  # loopback no longer listed


def test_metrics_allow_must_be_networks() -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
        GatewayConfig(metrics_allow=["everyone"])
    assert GatewayConfig(metrics_allow=[]).metrics_allow == []
