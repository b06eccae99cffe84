"""Gateway test fixtures: a seeded estate, a loopback upstream, a running gateway."""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from ringfence.core.clock import FixedClock
from ringfence.core.config import load_settings
from ringfence.gateway.app import Gateway, build_gateway
from ringfence.gateway.audit import AuditEvent, MemoryAuditSink
from ringfence.gateway.clients import CreatedClient, create_client, save_routes
from ringfence.gateway.config import GatewayConfig
from ringfence.gateway.routes import RouteSpec
from ringfence.gateway.tokens import ensure_signing_key
from ringfence.runtime import Runtime
from ringfence.store.db import Store
from ringfence.store.models import App, Credential, CredentialKind, Integration, Vendor
from ringfence.store.vault import MasterKey, Vault, write_key_file
from tests.gateway.upstream import serve_in_thread, upstream_app

UPSTREAM_SECRET = "upstream-secret-value-1234"
FAST_PATH_SEEN = [0]  # requests the native fast path planned (and verify mode confirmed)

CONTACT_SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 200}, "email": {"type": "string"}},
    "required": ["name"],
    "additionalProperties": False,
}
EXTRA_SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
    "additionalProperties": False,
}


def crm_routes(upstream: str) -> list[RouteSpec]:
    ops: list[dict[str, Any]] = [
        {"method": "GET", "path": "/contacts", "scopes": ["crm.read"]},
        {"method": "GET", "path": "/contacts/{contact_id}", "scopes": ["crm.read"]},
        {
            "method": "POST",
            "path": "/contacts",
            "scopes": ["crm.write"],
            "request_schema": CONTACT_SCHEMA,
        },
        {"method": "DELETE", "path": "/contacts/{contact_id}", "scopes": ["crm.admin"]},
        {
            "method": "GET",
            "path": "/tenants/{tenant_id}/invoices",
            "scopes": ["crm.read"],
            "bind": {"tenant_id": "tenant"},
        },
        {"method": "GET", "path": "/v1/contacts", "scopes": ["crm.read"], "deprecated": True},
        {"method": "GET", "path": "/redirect", "scopes": ["crm.read"]},
        {"method": "GET", "path": "/huge", "scopes": ["crm.read"]},
        {"method": "GET", "path": "/pii", "scopes": ["crm.read"]},
        {
            "method": "GET",
            "path": "/extra",
            "scopes": ["crm.read"],
            "response_schema": EXTRA_SCHEMA,
        },
        {"method": "GET", "path": "/slow", "scopes": ["crm.read"]},
        {"method": "GET", "path": "/file", "scopes": ["crm.read"]},
        {"method": "GET", "path": "/utf16", "scopes": ["crm.read"]},
        {"method": "GET", "path": "/utf16-nocharset", "scopes": ["crm.read"]},
        {
            "method": "GET",
            "path": "/notjson",
            "scopes": ["crm.read"],
            "response_schema": EXTRA_SCHEMA,
        },
        {
            "method": "GET",
            "path": "/busy",
            "scopes": ["crm.read"],
            "response_schema": EXTRA_SCHEMA,
        },
        {"method": "GET", "path": "/gzip", "scopes": ["crm.read"]},
        {"method": "POST", "path": "/exports", "scopes": ["crm.read"], "quota": "3/hour"},
    ]
    crm = RouteSpec.model_validate(
        {
            "name": "crm",
            "app": "crm",
            "prefix": "/crm",
            "upstream": upstream + "/api",
            "integrations": ["hr-to-crm", "billing-to-crm"],
            "operations": ops,
            "rate_limit": "1000/minute",
            "credential": {"credential": "crm-token", "scheme": "bearer"},
            "limits": {
                "max_body_bytes": 1_048_576,
                "max_response_bytes": 2_000_000,
                "timeout_seconds": 1.0,
            },
            "allow_loopback": True,
        }
    )
    redact = RouteSpec.model_validate(
        {
            "name": "crm-redact",
            "app": "crm",
            "prefix": "/crm-r",
            "upstream": upstream + "/api",
            "integrations": ["hr-to-crm"],
            "operations": [
                {"method": "POST", "path": "/notes", "scopes": ["crm.write"]},
                {"method": "GET", "path": "/pii", "scopes": ["crm.read"]},
                {"method": "GET", "path": "/file", "scopes": ["crm.read"]},
            ],
            "rate_limit": "5/minute",
            "dlp": {"action": "redact", "uninspectable": "allow"},
            "credential": {
                "ref": "vault:crm-upstream-token",
                "scheme": "header",
                "header": "X-Upstream-Key",
            },
            "allow_loopback": True,
        }
    )
    return [crm, redact]


def seed_estate(rt: Runtime) -> None:
    rt.vault.put("crm-upstream-token", UPSTREAM_SECRET)
    with rt.store.session() as s:
        vendor = Vendor(name="Acme")
        s.add(vendor)
        s.flush()
        hr = App(name="hr", vendor_id=vendor.id, clearance=2)
        crm = App(name="crm", vendor_id=vendor.id, clearance=1)
        s.add_all([hr, crm])
        s.flush()
        for name in ("hr-to-crm", "billing-to-crm"):
            s.add(Integration(name=name, source_app_id=hr.id, destination_app_id=crm.id))
        s.add(
            Credential(
                name="crm-token", kind=CredentialKind.API_KEY, ref="vault:crm-upstream-token"
            )
        )


@pytest.fixture(scope="session")
def upstream_url() -> Iterator[str]:
    with serve_in_thread(upstream_app) as url:
        yield url


@dataclass
class Env:
    rt: Runtime
    gateway: Gateway
    http: httpx.AsyncClient
    audit: MemoryAuditSink
    a: CreatedClient
    b: CreatedClient

    async def token(self, client: CreatedClient, scope: str | None = None) -> str:
        assert client.client_secret is not None
        data = {"grant_type": "client_credentials"}
        if scope:
            data["scope"] = scope
        r = await self.http.post(
            "/oauth/token",
            data=data,
            auth=(client.client_id, client.client_secret.get_secret_value()),
        )
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    async def get(self, path: str, token: str, **kw: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}", **kw.pop("headers", {})}
        return await self.http.get(path, headers=headers, **kw)


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@pytest.fixture
def gw_config() -> GatewayConfig:
    # verify: every request the native fast path plans is also decided by the Python path's
    # own steps, and a difference fails the test (``env``'s teardown); RINGFENCE_GATEWAY_
    # FAST_PATH=off runs the suite on the Python path alone
    mode = os.environ.get("RINGFENCE_GATEWAY_FAST_PATH", "verify")
    return GatewayConfig(trusted_proxies=["10.9.0.0/16"], fast_path=mode)  # type: ignore[arg-type]


@dataclass
class Template:
    dir: Path
    a: CreatedClient
    b: CreatedClient


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory, upstream_url: str) -> Template:
    """Migrate and seed once; each test gets a copy (migrations cost ~0.5 s per test)."""
    data = tmp_path_factory.mktemp("gw-template")
    key = MasterKey.generate()
    write_key_file(data / "master.key", key)
    settings = load_settings(data_dir=data, master_key_file=data / "master.key")
    clock = FixedClock()
    rt = Runtime.open(settings, clock=clock, migrate=True)
    try:
        seed_estate(rt)
        save_routes(rt.store, crm_routes(upstream_url))
        ensure_signing_key(rt.store, rt.vault, clock)
        a = create_client(
            rt.store,
            clock,
            integration="hr-to-crm",
            name="hr sync",
            scopes=["crm.read", "crm.write"],
            claims={"tenant": "t-a"},
        )
        b = create_client(
            rt.store,
            clock,
            integration="billing-to-crm",
            name="billing",
            scopes=["crm.read"],
            claims={"tenant": "t-b"},
        )
    finally:
        rt.close()
    return Template(data, a, b)


@pytest.fixture
def gw_runtime(template: Template, tmp_path: Path) -> Iterator[Runtime]:
    data = tmp_path / "gwdata"
    shutil.copytree(template.dir, data)
    settings = load_settings(data_dir=data, master_key_file=data / "master.key")
    # The copy is migrated already: skip Runtime.open's migration check (it parses every
    # migration script, a few hundred ms per test).
    store = Store(settings.resolved_store_url)
    clock = FixedClock()
    rt = Runtime(
        settings=settings,
        store=store,
        vault=Vault(store, data / "master.key", clock=clock),
        clock=clock,
    )
    yield rt
    rt.close()


class LineAuditSink(MemoryAuditSink):
    """A memory sink that takes JSON lines as the JSONL sink does (``accepts_lines``): the
    suite's requests have their audit line written natively, and in verify mode each line is
    compared with orjson's for the event (a difference fails the test); the events are read
    back from the lines for the tests to inspect."""

    accepts_lines = True

    def emit_line(self, line: bytes) -> None:
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        self.events.append(AuditEvent(**orjson.loads(line)))


@pytest.fixture
async def env(
    gw_runtime: Runtime, template: Template, gw_config: GatewayConfig
) -> AsyncIterator[Env]:
    audit = LineAuditSink()
    gateway = build_gateway(
        gw_runtime.store, gw_runtime.vault, config=gw_config, clock=gw_runtime.clock, audit=audit
    )
    await gateway.startup()
    transport = httpx.ASGITransport(app=gateway, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
        yield Env(gw_runtime, gateway, http, audit, template.a, template.b)
    await gateway.shutdown()
    assert gateway.fast_mismatches == 0, "the native fast path decided differently"
    FAST_PATH_SEEN[0] += gateway.fast_verified
