"""Policy snapshot: versioned, atomically swapped, propagates quarantine fast, fails closed."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select, update

from ringfence.gateway.config import GatewayConfig
from ringfence.gateway.models import GatewayRoute
from ringfence.gateway.policy import PolicyHolder
from ringfence.store.models import Integration, IntegrationStatus
from tests.gateway.conftest import Env


async def test_quarantine_is_refused_within_one_second(env: Env) -> None:
    token = await env.token(env.a)
    assert (await env.get("/crm/contacts", token)).status_code == 200
    with env.rt.store.session() as s:
        s.execute(
            update(Integration)
            .where(Integration.name == "hr-to-crm")
            .values(status=IntegrationStatus.QUARANTINED)
        )
    changed = time.monotonic()
    while time.monotonic() - changed < 1.0:
        r = await env.get("/crm/contacts", token)
        if r.status_code == 403:
            break
        await asyncio.sleep(0.02)
    assert r.status_code == 403
    assert r.json()["code"] == "integration_quarantined"
    assert time.monotonic() - changed < 1.0
    # the other integration keeps working
    tb = await env.token(env.b)
    assert (await env.get("/crm/contacts", tb)).status_code == 200
    # and no new tokens are issued to the quarantined one
    assert env.a.client_secret is not None
    r = await env.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(env.a.client_id, env.a.client_secret.get_secret_value()),
    )
    assert r.status_code == 400


async def test_revoked_integration_is_refused(env: Env) -> None:
    token = await env.token(env.a)
    with env.rt.store.session() as s:
        integ = s.scalar(select(Integration).where(Integration.name == "hr-to-crm"))
        assert integ is not None
        integ.status = IntegrationStatus.REVOKED
    env.gateway.holder.reload()
    r = await env.get("/crm/contacts", token)
    assert r.status_code == 403
    assert r.json()["code"] == "integration_revoked"


async def test_reload_bumps_version_only_on_change(env: Env) -> None:
    holder = env.gateway.holder
    v = holder.current().version
    assert holder.reload() is False
    with env.rt.store.session() as s:
        row = s.scalar(select(GatewayRoute).where(GatewayRoute.name == "crm-redact"))
        assert row is not None
        spec = dict(row.spec)
        spec["rate_limit"] = "7/minute"
        row.spec = spec
    assert holder.reload() is True
    assert holder.current().version == v + 1


async def test_in_flight_request_keeps_its_snapshot(env: Env) -> None:
    token = await env.token(env.a)
    old = env.gateway.holder.current()
    slow = asyncio.create_task(env.get("/crm/slow", token))
    await asyncio.sleep(0.1)
    env.gateway.holder.reload(force=True)
    assert env.gateway.holder.current() is not old
    r = await slow
    assert r.status_code == 504  # finished (upstream timeout), not dropped or 5xx'd by the swap


async def test_broken_route_in_store_fails_closed(env: Env) -> None:
    token = await env.token(env.a)
    with env.rt.store.session() as s:
        row = s.scalar(select(GatewayRoute).where(GatewayRoute.name == "crm"))
        assert row is not None
        spec = dict(row.spec)
        spec["integrations"] = ["does-not-exist"]
        row.spec = spec
    assert env.gateway.holder.reload() is False
    assert "does-not-exist" in (env.gateway.holder.last_error or "")
    env.gateway.holder._checked_at -= 60
    r = await env.get("/crm/contacts", token)
    assert r.status_code == 503


def test_no_snapshot_means_unavailable(gw_runtime) -> None:  # type: ignore[no-untyped-def]
    from ringfence.core.errors import UnavailableError

    holder = PolicyHolder(gw_runtime.store, gw_runtime.vault, GatewayConfig())
    with pytest.raises(UnavailableError):
        holder.current()


def test_a_missing_vault_secret_takes_only_its_routes_out(gw_runtime) -> None:  # type: ignore[no-untyped-def]
    # Session 13: a route whose credential cannot be resolved used to fail the whole build
    # (every route 503, policy_reload_failed logged 4-5 times a second); now that route is
    # out of service and the snapshot loads.
    gw_runtime.vault.delete("crm-upstream-token")
    holder = PolicyHolder(gw_runtime.store, gw_runtime.vault, GatewayConfig())
    assert holder.reload() is True
    snap = holder.current()
    assert set(snap.unavailable_routes) == {"crm", "crm-redact"}
    assert "crm-upstream-token" in snap.unavailable_routes["crm"]
    assert all(r.credential is None for r in snap.routes.values())


async def test_an_unavailable_route_is_503_and_the_others_serve(env: Env) -> None:
    from ringfence.gateway.clients import save_routes
    from ringfence.gateway.routes import RouteSpec

    token = await env.token(env.a)
    crm = env.gateway.holder.current().routes[("crm",)]
    deep = RouteSpec.model_validate(
        {
            "name": "crm-deep",
            "app": "crm",
            "prefix": "/crm/deep",  # longer than /crm: must never fall back to it
            "upstream": crm.upstream_base,
            "integrations": ["hr-to-crm"],
            "operations": [{"method": "GET", "path": "/contacts", "scopes": ["crm.read"]}],
            "credential": {"ref": "vault:deep-token", "scheme": "bearer"},
            "allow_loopback": True,
        }
    )
    save_routes(env.rt.store, [deep])
    assert env.gateway.holder.reload() is True
    assert env.gateway.holder.last_error is None
    r = await env.get("/crm/deep/contacts", token)
    assert r.status_code == 503
    assert r.json()["code"] == "route_unavailable"
    assert "deep-token" not in r.text  # the reason is logged, not told to the caller
    ready = (await env.http.get("/readyz")).json()
    assert ready["status"] == "ready" and ready["unavailable_routes"] == ["crm-deep"]
    assert (await env.get("/crm/contacts", token)).status_code == 200
    # the same state is not recompiled on every poll; putting the secret brings it back
    assert env.gateway.holder.reload() is False
    env.rt.vault.put("deep-token", "s3cret-deep-token")
    assert env.gateway.holder.reload() is True
    assert env.gateway.holder.current().unavailable_routes == {}
    assert "unavailable_routes" not in (await env.http.get("/readyz")).json()
    assert (await env.get("/crm/deep/contacts", token)).status_code == 200


def test_a_failing_policy_is_not_recompiled_or_logged_every_poll(  # type: ignore[no-untyped-def]
    gw_runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ringfence.gateway import policy

    with gw_runtime.store.session() as s:
        row = s.scalar(select(GatewayRoute).where(GatewayRoute.name == "crm"))
        assert row is not None
        row.spec = {**row.spec, "integrations": ["does-not-exist"]}
    builds = []
    real = policy.compile_snapshot
    monkeypatch.setattr(
        policy, "compile_snapshot", lambda *a, **k: builds.append(1) or real(*a, **k)
    )
    holder = PolicyHolder(gw_runtime.store, gw_runtime.vault, GatewayConfig())
    for _ in range(20):
        assert holder.reload() is False
    assert len(builds) == 1
    assert "does-not-exist" in (holder.last_error or "")
    assert holder.reload(force=True) is False and len(builds) == 2
    with gw_runtime.store.session() as s:  # a change to the store is tried at once
        row = s.scalar(select(GatewayRoute).where(GatewayRoute.name == "crm"))
        assert row is not None
        row.spec = {**row.spec, "integrations": ["hr-to-crm"]}
    assert holder.reload() is True and len(builds) == 3


async def test_revoked_client_loses_tokens_and_keys(env: Env) -> None:
    from ringfence.gateway.clients import create_api_key, revoke_client

    token = await env.token(env.b)
    key = create_api_key(env.rt.store, env.rt.clock, client_id=env.b.client_id)
    env.gateway.holder.reload()
    secret = key.api_key.get_secret_value()
    assert (await env.get("/crm/contacts", token)).status_code == 200
    assert (await env.http.get("/crm/contacts", headers={"x-api-key": secret})).status_code == 200
    revoke_client(env.rt.store, env.rt.clock, env.b.client_id)
    env.gateway.holder.reload()
    r = await env.get("/crm/contacts", token)
    assert r.status_code == 401 and r.json()["code"] == "client_revoked"
    r = await env.http.get("/crm/contacts", headers={"x-api-key": secret})
    assert r.status_code == 401
