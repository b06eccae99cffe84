"""Server workers keep their long-lived heap out of the collector (the p99 tail under load).

A full collection of a gateway worker's startup heap takes ~150 ms, during which no request
moves. With ``freeze_gc`` the heap after startup is frozen; a policy change triggers one full
collection (so a replaced snapshot's cycles are freed) and a new freeze. Tests and the
embedded one-process mode do not freeze (the default).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from ringfence.gateway.app import Gateway, build_gateway
from ringfence.gateway.config import GatewayConfig
from ringfence.runtime import Runtime
from ringfence.store.models import Integration, IntegrationStatus


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # leave the test process as it was


async def test_worker_gateway_freezes_its_heap_and_refreezes_on_policy_change(
    gw_runtime: Runtime, unfrozen: None
) -> None:
    gateway = build_gateway(
        gw_runtime.store,
        gw_runtime.vault,
        clock=gw_runtime.clock,
        config=GatewayConfig(dlp_engine="builtin"),
        freeze_gc=True,
    )
    await gateway.startup()
    try:
        assert gc.get_freeze_count() > 1000
        snap = gateway.holder.snapshot
        assert snap is not None
        assert not gateway.refreeze_if_policy_changed()  # same policy: nothing to do
        _quarantine_billing(gw_runtime)
        _reload(gateway, snap.version)
        new = gateway.holder.snapshot
        assert new is not None and new.version == snap.version + 1
        gc.unfreeze()  # prove the refreeze freezes again
        assert gc.get_freeze_count() == 0
        assert gateway.refreeze_if_policy_changed()
        assert gc.get_freeze_count() > 1000
        assert not gateway.refreeze_if_policy_changed()
    finally:
        await gateway.shutdown()


async def test_gateway_does_not_freeze_by_default(gw_runtime: Runtime, unfrozen: None) -> None:
    gateway = build_gateway(
        gw_runtime.store,
        gw_runtime.vault,
        clock=gw_runtime.clock,
        config=GatewayConfig(dlp_engine="builtin"),
    )
    await gateway.startup()
    try:
        assert gc.get_freeze_count() == 0
    finally:
        await gateway.shutdown()


def _quarantine_billing(rt: Runtime) -> None:
    """A policy change: one integration quarantined."""
    with rt.store.session() as s:
        s.execute(
            update(Integration)
            .where(Integration.name == "billing-to-crm")
            .values(status=IntegrationStatus.QUARANTINED)
        )


def _reload(gateway: Gateway, before: int) -> None:
    """Reload after a policy change. The gateway's watcher reloads in a thread of its own and
    may have swapped the new snapshot in first (reload() then returns False: nothing new);
    either way the snapshot must now be the next version."""
    gateway.holder.reload()
    snap = gateway.holder.snapshot
    assert snap is not None and snap.version == before + 1


def _freezing_gateway(rt: Runtime) -> Gateway:
    """A gateway that freezes its heap, with a policy stale after 0.4 s without a check."""
    return build_gateway(
        rt.store,
        rt.vault,
        clock=rt.clock,
        config=GatewayConfig(dlp_engine="builtin", max_staleness_seconds=0.4),
        freeze_gc=True,
    )


def _slow_collections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every refreeze then holds the GIL for 0.6 s — past the 0.4 s staleness limit the tests
    set — as a full collection of a big heap on a loaded machine does."""
    import time

    from ringfence.gateway.app import Gateway

    real = Gateway._refreeze

    def slow_refreeze(self: Gateway) -> None:
        real(self)
        time.sleep(0.6)

    monkeypatch.setattr(Gateway, "_refreeze", slow_refreeze)


async def test_a_long_startup_collection_does_not_leave_the_policy_stale(
    gw_runtime: Runtime, unfrozen: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The start-up collection holds the GIL (seconds on a big heap of a loaded machine, seen
    in CI): the first request after it must find a fresh policy, not a 503 'policy stale'."""
    import httpx

    _slow_collections(monkeypatch)
    gateway = _freezing_gateway(gw_runtime)
    transport = httpx.ASGITransport(app=gateway)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://g") as c:
            r = await c.get("/crm/contacts")  # the first request starts the gateway
        assert r.status_code == 401, r.text  # decided on a fresh policy: no token
    finally:
        await gateway.shutdown()


async def test_a_long_collection_after_a_policy_change_leaves_the_policy_fresh(
    gw_runtime: Runtime, unfrozen: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = _freezing_gateway(gw_runtime)
    await gateway.startup()
    try:
        _slow_collections(monkeypatch)
        before = gateway.holder.snapshot
        assert before is not None
        _quarantine_billing(gw_runtime)
        _reload(gateway, before.version)
        await gateway.refreeze_and_recheck()
        gateway.holder.current()  # fresh: raises "policy stale" otherwise
    finally:
        await gateway.shutdown()


def test_server_worker_factory_asks_for_a_frozen_heap(monkeypatch: pytest.MonkeyPatch) -> None:
    import ringfence.gateway.app as app_module
    import ringfence.gateway.cli as cli_module
    import ringfence.runtime as runtime_module

    seen: dict[str, object] = {}
    monkeypatch.setattr(app_module, "build_gateway", lambda *a, **kw: seen.update(kw))
    monkeypatch.setattr(runtime_module.Runtime, "open", lambda *a, **kw: _FakeRuntime())
    monkeypatch.delenv("RINGFENCE_NATS_URL", raising=False)
    cli_module.asgi_app()
    assert seen["freeze_gc"] is True


class _FakeRuntime:
    store = None
    vault = None
