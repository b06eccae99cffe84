from __future__ import annotations

import asyncio

from ringfence.bus import InProcessBus
from ringfence.gateway.audit import AuditEvent, CallableAuditSink
from ringfence.monitor.gateway_feed import gateway_publisher
from ringfence.monitor.service import Monitor
from ringfence.monitor.storage import HuntQuery
from ringfence.store.db import Store


async def test_gateway_audit_sink_feeds_the_bus(sqlite_store: Store) -> None:
    bus = InProcessBus()
    monitor = Monitor(sqlite_store)
    sink = CallableAuditSink(gateway_publisher(bus))
    for i in range(5):
        sink.emit(
            AuditEvent(
                time=f"2026-01-05T09:00:0{i}Z",
                request_id=f"req-{i}",
                method="POST",
                status=403 if i % 2 else 200,
                decision="deny" if i % 2 else "allow",
                reason="scope_missing" if i % 2 else "ok",
                latency_ms=4.2,
                client_ip="10.9.8.7",
                integration="crm-sync",
                route="hubspot-contacts",
                path_template="/crm/v3/objects/contacts",
                upstream="api.hubapi.com",
            )
        )
    stop = asyncio.Event()
    worker = asyncio.create_task(bus.run_worker(monitor.process, stop))
    for _ in range(100):
        if monitor.events.count() == 5:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await worker
    await sink.aclose()
    (e,) = [x for x in monitor.events.hunt(HuntQuery()) if x.raw["request_id"] == "req-1"]
    assert e.class_uid == 4002 and e.actor == "crm-sync" and e.status_id == 2
    assert e.ocsf["http_request"]["url"]["path"] == "/crm/v3/objects/contacts"
