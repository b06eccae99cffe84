"""API1:2023 Broken Object Level Authorization — a tenant's token on another tenant's object."""

from __future__ import annotations

from tests.gateway.conftest import Env


async def test_other_tenants_object_is_refused(env: Env) -> None:
    token = await env.token(env.a)  # tenant t-a
    r = await env.get("/crm/tenants/t-b/invoices", token)
    assert r.status_code == 403
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "object_forbidden"
    assert env.audit.events[-1].reason == "object_forbidden"


async def test_own_tenants_object_is_allowed(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.get("/crm/tenants/t-a/invoices", token)
    assert r.status_code == 200
    assert r.json()["path"] == "/api/tenants/t-a/invoices"


async def test_encoded_tenant_id_cannot_bypass_binding(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.get("/crm/tenants/t%2Db/invoices", token)  # %2D = '-' → t-b after decoding
    assert r.status_code == 403
