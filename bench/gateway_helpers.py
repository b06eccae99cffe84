"""Helpers of bench/bench_gateway.py: nginx config, fallback upstream, the seeded estate."""

from __future__ import annotations

import json
import os
from pathlib import Path

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
