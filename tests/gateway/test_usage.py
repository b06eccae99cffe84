"""Observed usage: allowed requests are counted per integration, scope and route, stored in
``gateway_usage`` — the evidence posture's least-privilege checks and access reviews read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from ringfence.gateway.models import GatewayUsage
from ringfence.gateway.usage import UsageCounter, record_usage
from ringfence.posture.loader import load_context
from ringfence.store.db import Store
from tests.gateway.conftest import Env


async def test_allowed_requests_are_recorded_refused_ones_are_not(env: Env) -> None:
    token = await env.token(env.a)
    for _ in range(3):
        assert (await env.get("/crm/contacts", token)).status_code == 200
    assert (await env.get("/crm/contacts/c-1", token)).status_code == 200
    # Refused: no token, and a scope the client lacks — neither is "use".
    assert (await env.http.get("/crm/contacts")).status_code == 401
    denied = await env.http.delete(
        "/crm/contacts/c-1", headers={"authorization": f"Bearer {token}"}
    )
    assert denied.status_code == 403
    await env.gateway._write_key_use()  # the periodic flush, run now
    with env.rt.store.session() as s:
        rows = {
            (r.scope, r.route): r.count
            for r in s.scalars(select(GatewayUsage).where(GatewayUsage.integration != ""))
        }
    integ = env.audit.events[-1].integration
    assert integ
    assert rows == {
        ("crm.read", "crm GET /crm/contacts"): 3,
        ("crm.read", "crm GET /crm/contacts/{contact_id}"): 1,
    }


def test_flushes_add_up_and_keep_the_latest_time(gw_runtime) -> None:  # type: ignore[no-untyped-def]
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(3):
        counter = UsageCounter()
        counter.add("crm-sync", ["crm.read"], "crm GET /contacts", t0 + timedelta(hours=i))
        counter.add("crm-sync", ["crm.read"], "crm GET /contacts", t0 + timedelta(hours=i))
        record_usage(gw_runtime.store, counter.take())
    # An older flush arriving late (another gateway process) must not move last_seen back.
    late = UsageCounter()
    late.add("crm-sync", ["crm.read"], "crm GET /contacts", t0)
    record_usage(gw_runtime.store, late.take())
    with gw_runtime.store.session() as s:
        row = s.scalar(select(GatewayUsage).where(GatewayUsage.integration == "crm-sync"))
        assert row is not None and row.count == 7
        assert row.last_seen == t0 + timedelta(hours=2) and row.first_seen == t0
        ctx = load_context(s, t0 + timedelta(days=1))
    assert ctx.usage is not None
    used = ctx.usage["crm-sync"]
    assert used.scopes["crm.read"].count == 7


def test_flushes_add_up_on_each_engine(store: Store) -> None:
    # The upsert is built once per dialect and run as one executemany: same sums on both.
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(3):
        counter = UsageCounter()
        for route in ("r GET /a", "r GET /b"):
            counter.add("sync", ["s.read", "s.write"], route, t0 + timedelta(hours=i))
        record_usage(store, counter.take())
    late = UsageCounter()
    late.add("sync", ["s.read"], "r GET /a", t0)
    record_usage(store, late.take())
    with store.session() as s:
        rows = {
            (r.scope, r.route): (r.count, r.first_seen, r.last_seen)
            for r in s.scalars(select(GatewayUsage).where(GatewayUsage.integration == "sync"))
        }
    last = t0 + timedelta(hours=2)
    assert rows == {
        ("s.read", "r GET /a"): (4, t0, last),
        ("s.write", "r GET /a"): (3, t0, last),
        ("s.read", "r GET /b"): (3, t0, last),
        ("s.write", "r GET /b"): (3, t0, last),
    }
