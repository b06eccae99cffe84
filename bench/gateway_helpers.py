"""Helpers of bench/bench_gateway.py: nginx config, fallback upstream, the seeded estate."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log crit;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    keepalive_requests 1000000;
    upstream backend {{ server 127.0.0.1:{up_port}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{up_port};
        location / {{
            default_type application/json;
            return 200 '{{"ok":true,"items":[1,2,3]}}';
        }}
    }}
    server {{
        listen 127.0.0.1:{proxy_port};
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""

UVICORN_UPSTREAM = """
import uvicorn
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({{"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]}})
    await send({{"type": "http.response.body", "body": b'{{"ok":true,"items":[1,2,3]}}'}})
uvicorn.run(app, host="127.0.0.1", port={port}, log_level="error", loop="uvloop", http="httptools")
"""

ITEM_SCHEMA = {
    "type": "object",
    "properties": {
        "batch": {"type": "string", "maxLength": 64},
        "items": {
            "type": "array",
            "maxItems": 200,
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": "string", "maxLength": 100},
                    "note": {"type": "string", "maxLength": 500},
                },
                "required": ["id", "name"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["items"],
    "additionalProperties": False,
}


def body_4k() -> bytes:
    """A 4 KiB JSON body without sensitive data (so DLP scans it fully and lets it pass)."""
    items = []
    i = 0
    while True:
        items.append({"id": i, "name": f"widget {i}", "note": "standard stock item, blue"})
        raw = json.dumps({"batch": "b-1", "items": items}, separators=(",", ":")).encode()
        if len(raw) >= 4096:
            return raw
        i += 1


def seed_bench_estate(data_dir: Path, master_key: str, upstream: str) -> dict[str, str]:
    """Initialise a store with two routes, a client, an API key; returns the credentials."""
    os.environ["RINGFENCE_MASTER_KEY"] = master_key
    from ringfence.core.config import load_settings
    from ringfence.gateway.clients import create_api_key, create_client, save_routes
    from ringfence.gateway.routes import RouteSpec
    from ringfence.gateway.tokens import ensure_signing_key
    from ringfence.runtime import Runtime, initialise
    from ringfence.store.models import App, Integration, Vendor

    settings = load_settings(data_dir=data_dir)
    initialise(settings)
    rt = Runtime.open(settings)
    try:
        rt.vault.put("bench/upstream-token", "bench-upstream-token-value")
        with rt.store.session() as s:
            vendor = Vendor(name="Bench vendor")
            s.add(vendor)
            s.flush()
            src = App(name="bench-source", vendor_id=vendor.id, clearance=2)
            dst = App(name="bench-destination", vendor_id=vendor.id, clearance=1)
            s.add_all([src, dst])
            s.flush()
            s.add(Integration(name="bench", source_app_id=src.id, destination_app_id=dst.id))
        common = {
            "app": "bench-destination",
            "upstream": upstream + "/v1",
            "integrations": ["bench"],
            "allow_loopback": True,
            "credential": {"ref": "vault:bench/upstream-token", "scheme": "bearer"},
        }
        save_routes(
            rt.store,
            [
                RouteSpec.model_validate(
                    {
                        **common,
                        "name": "pass",
                        "prefix": "/pass",
                        "rate_limit": None,
                        "dlp": {"inspect_request": False, "inspect_response": False},
                        "operations": [{"method": "GET", "path": "/items", "scopes": []}],
                    }
                ),
                RouteSpec.model_validate(
                    {
                        **common,
                        "name": "full",
                        "prefix": "/full",
                        "rate_limit": "100000000/minute",
                        "dlp": {"action": "block"},
                        "operations": [
                            {
                                "method": "POST",
                                "path": "/items",
                                "scopes": ["bench.write"],
                                "request_schema": ITEM_SCHEMA,
                            }
                        ],
                    }
                ),
            ],
        )
        ensure_signing_key(rt.store, rt.vault, rt.clock)
        client = create_client(
            rt.store,
            rt.clock,
            integration="bench",
            name="bench",
            scopes=["bench.write", "bench.read"],
        )
        key = create_api_key(rt.store, rt.clock, client_id=client.client_id)
        assert client.client_secret is not None
        return {
            "client_id": client.client_id,
            "client_secret": client.client_secret.get_secret_value(),
            "api_key": key.api_key.get_secret_value(),
        }
    finally:
        rt.close()


# -- ``--trace``: where the half-load requests spend their time ------------------------------
# Loaded in each gateway worker (uvicorn factory ``bench.gateway_helpers:traced_app``) instead
# of ``ringfence.gateway.cli:asgi_app``. Probes, all on ``time.perf_counter`` (CLOCK_MONOTONIC,
# comparable across processes): per request the time its bytes reached the protocol, the ASGI
# app start, the Redis and upstream awaits and the response write; a 1 ms heartbeat timer for
# event-loop lag (with the main thread's CPU time over the late interval: on CPU = the loop was
# busy, off CPU = descheduled or waiting for the GIL); durations (wall and thread CPU) of the
# periodic work that holds the GIL: policy polls, audit and usage flushes, GC collections.
# Diagnostics only: the probes cost CPU of their own, so traced runs are not the benchmark.

TRACE_DIR_ENV = "RF_BENCH_TRACE_DIR"


def traced_app() -> object:
    import asyncio
    import gc
    from time import perf_counter, thread_time

    from ringfence.gateway import app as gateway_app
    from ringfence.gateway import audit, cli, httpproto, policy, ratelimit, upstream

    requests: list[tuple[float, ...]] = []
    lags: list[tuple[float, ...]] = []
    events: list[tuple[str, float, float, float]] = []

    def timed_sync(kind: str, fn: Any) -> Any:
        def wrapper(*a: Any, **kw: Any) -> Any:
            t0, c0 = perf_counter(), thread_time()
            try:
                return fn(*a, **kw)
            finally:
                events.append((kind, t0, perf_counter(), thread_time() - c0))

        return wrapper

    def timed_await(attr: str, fn: Any) -> Any:
        async def wrapper(*a: Any, **kw: Any) -> Any:
            t0 = perf_counter()
            try:
                return await fn(*a, **kw)
            finally:
                setattr(asyncio.current_task(), attr, (t0, perf_counter()))

        return wrapper

    proto = httpproto.GatewayHttpToolsProtocol
    data_received, headers_complete = proto.data_received, proto.on_headers_complete

    def on_data(self: Any, data: bytes) -> None:
        self._rf_arrived = perf_counter()
        data_received(self, data)

    def on_headers(self: Any) -> None:
        headers_complete(self)  # builds the request's scope (self.cycle.scope)
        self.cycle.scope["rf.arrived"] = getattr(self, "_rf_arrived", perf_counter())

    proto.data_received = on_data  # type: ignore[method-assign]
    proto.on_headers_complete = on_headers  # type: ignore[method-assign]
    ratelimit.RateLimiter.hit = timed_await("rf_redis", ratelimit.RateLimiter.hit)  # type: ignore[method-assign]
    upstream.UpstreamPool.request = timed_await("rf_upstream", upstream.UpstreamPool.request)  # type: ignore[method-assign]
    policy.PolicyHolder.reload = timed_sync("policy poll", policy.PolicyHolder.reload)  # type: ignore[method-assign]
    audit.JsonlAuditSink.flush = timed_sync("audit flush", audit.JsonlAuditSink.flush)  # type: ignore[method-assign]
    import ringfence.gateway.usage as usage_mod

    gateway_app.record_usage = timed_sync("usage flush", usage_mod.record_usage)  # type: ignore[attr-defined]
    gc_start: dict[str, float] = {}

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_start["t"], gc_start["c"] = perf_counter(), thread_time()
        else:
            t0 = gc_start.get("t", perf_counter())
            cpu = thread_time() - gc_start.get("c", thread_time())
            events.append((f"gc gen{info['generation']}", t0, perf_counter(), cpu))

    gc.callbacks.append(on_gc)
    gw = cli.asgi_app()
    shutdown = gw.shutdown

    async def dump_then_shutdown() -> None:
        out = Path(os.environ[TRACE_DIR_ENV]) / f"trace-{os.getpid()}.json"
        out.write_text(json.dumps({"requests": requests, "lags": lags, "events": events}))
        await shutdown()

    gw.shutdown = dump_then_shutdown  # type: ignore[method-assign]
    last = [perf_counter(), thread_time()]

    def heartbeat(expected: float, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        wall, cpu = perf_counter(), thread_time()
        if now - expected > 0.0005:
            lags.append((wall, now - expected, wall - last[0], cpu - last[1]))
        last[0], last[1] = wall, cpu
        loop.call_at(now + 0.001, heartbeat, now + 0.001, loop)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                loop = asyncio.get_running_loop()
                loop.call_soon(heartbeat, loop.time(), loop)
            await gw(scope, receive, send)
            return
        started = perf_counter()
        sent: list[float] = []

        async def timed_send(message: dict[str, Any]) -> None:
            await send(message)
            if message["type"] == "http.response.body":
                sent.append(perf_counter())

        await gw(scope, receive, timed_send)
        task = asyncio.current_task()
        redis = getattr(task, "rf_redis", (0.0, 0.0))
        up = getattr(task, "rf_upstream", (0.0, 0.0))
        end = sent[0] if sent else perf_counter()
        requests.append((scope.get("rf.arrived", started), started, *redis, *up, end))

    return app


def _pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))] if values else float("nan")


def summarise_traces(trace_dir: Path, t0: float, t1: float) -> str:
    """What the requests between ``t0`` and ``t1`` (perf_counter) spent their time on."""
    lines: list[str] = []
    for path in sorted(trace_dir.glob("trace-*.json")):
        data = json.loads(path.read_text())
        reqs = [r for r in data["requests"] if t0 <= r[0] <= t1]
        if not reqs:
            continue
        total = sorted((r[6] - r[0]) * 1e3 for r in reqs)
        queued = sorted((r[1] - r[0]) * 1e3 for r in reqs)
        redis = sorted((r[3] - r[2]) * 1e3 for r in reqs if r[2])
        up = sorted((r[5] - r[4]) * 1e3 for r in reqs if r[4])
        lines.append(
            f"worker {path.stem[6:]}: {len(reqs):,} requests; in-process ms p50/p99/max: "
            f"total {_pct(total, 0.5):.2f}/{_pct(total, 0.99):.2f}/{total[-1]:.2f}, "
            f"queued before the app {_pct(queued, 0.5):.2f}/{_pct(queued, 0.99):.2f}, "
            f"Redis await {_pct(redis, 0.5):.2f}/{_pct(redis, 0.99):.2f}, "
            f"upstream await {_pct(up, 0.5):.2f}/{_pct(up, 0.99):.2f}"
        )
        events = [e for e in data["events"] if t0 <= e[1] <= t1]
        by_kind: dict[str, list[tuple[float, float]]] = {}
        for kind, a, b, cpu in events:
            by_kind.setdefault(kind, []).append(((b - a) * 1e3, cpu * 1e3))
        for kind, vals in sorted(by_kind.items()):
            walls = sorted(v[0] for v in vals)
            cpus = sorted(v[1] for v in vals)
            lines.append(
                f"  {kind}: {len(vals)} in the window, wall ms p50 {_pct(walls, 0.5):.2f} max "
                f"{walls[-1]:.2f}, thread CPU ms p50 {_pct(cpus, 0.5):.2f} max {cpus[-1]:.2f}"
            )
        late = [x for x in data["lags"] if t0 <= x[0] <= t1 and x[1] > 0.001]
        on_cpu = sum(1 for x in late if x[3] > 0.7 * x[2])
        off_cpu = sum(1 for x in late if x[3] < 0.3 * x[2])
        lines.append(
            f"  event-loop lag > 1 ms: {len(late)} times (> 3 ms: "
            f"{sum(1 for x in late if x[1] > 0.003)}); main thread on CPU through it: {on_cpu}, "
            f"off CPU (descheduled or waiting for the GIL): {off_cpu}"
        )
        slow = [r for r in reqs if r[6] - r[0] > 0.003]
        causes: dict[str, int] = {}
        for r in slow:
            hit = {e[0] for e in events if e[1] < r[6] and e[2] > r[0]}
            if any(r[0] - 0.001 <= x[0] <= r[6] + 0.001 for x in late):
                hit.add("loop lag")
            key = " + ".join(sorted(hit)) or "nothing recorded"
            causes[key] = causes.get(key, 0) + 1
        top = sorted(causes.items(), key=lambda kv: -kv[1])[:6]
        lines.append(
            f"  requests > 3 ms in process: {len(slow)} ({len(slow) / len(reqs):.2%}); "
            f"overlapping: " + "; ".join(f"{k}: {v}" for k, v in top)
        )
    return "\n".join(lines) or "no traced requests in the window"
