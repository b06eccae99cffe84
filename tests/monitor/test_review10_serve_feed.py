"""`ringfence serve`: the gateway's audit events reach monitoring even through a store outage
(review 10, finding #2).

Before: ``in_process_sink`` built its ``CallableAuditSink`` without a spool, so an event the
monitor could not store (the database locked past its busy timeout, or down) was logged as
``audit_event_dropped`` and lost — the only place the request was recorded for monitoring.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest

from ringfence.gateway.audit import AuditEvent
from ringfence.monitor.gateway_feed import in_process_sink
from ringfence.monitor.storage import EventStore
from ringfence.runtime import Runtime


def _event(i: int) -> AuditEvent:
    return AuditEvent(
        time="2026-01-05T10:00:00+00:00",
        request_id=f"serve-outage-{i}",
        method="GET",
        status=403,
        decision="deny",
        reason="insufficient_scope",
        latency_ms=1.0,
        integration="crm-sync",
        path_template="/v1/items",
        client_ip="10.0.0.9",
    )


def _hold_write_lock(db_path: str, locked: threading.Event, release: threading.Event) -> None:
    conn = sqlite3.connect(db_path, timeout=1)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        locked.set()
        release.wait(30)
        conn.rollback()
    finally:
        conn.close()


@pytest.mark.timeout(60)
async def test_an_event_the_store_cannot_take_is_spooled_and_replayed(runtime: Runtime) -> None:
    rt = runtime
    db_path = rt.settings.resolved_store_url.removeprefix("sqlite:///")
    sink = in_process_sink(rt)
    locked, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(db_path, locked, release))
    holder.start()
    try:
        assert locked.wait(5)
        sink.emit(_event(1))  # the store stays locked past its 5 s busy timeout
        await sink.drain(max_wait=15)
    finally:
        release.set()
        holder.join()
    events = EventStore(rt.store)
    assert events.count() == 0
    sent = await sink.replay_spool()
    assert sent == 1, "the event the store could not take was dropped, not spooled"
    assert events.count() == 1
    await sink.aclose()
    # and the spool is empty afterwards: nothing is replayed twice
    assert await sink.replay_spool() == 0
    await asyncio.sleep(0)


@pytest.mark.parametrize(
    "change",
    [
        # (an empty probed path and a status outside 100-599 were refused here before review
        # 10 A7; the parser takes them now: tests/monitor/test_review10_gateway_parser.py)
        {"method": ""},  # no method: still refused
        {"time": "not a time"},  # no time: still refused
    ],
)
async def test_an_audit_event_the_parser_rejects_is_dead_lettered_not_dropped(
    runtime: Runtime, change: dict[str, object]
) -> None:
    """Finding #9: before, the in-process sink logged a warning and dropped it: the request
    vanished from monitoring."""
    sink = in_process_sink(runtime)
    event = _event(2)
    for k, v in change.items():
        setattr(event, k, v)
    sink.emit(event)
    await sink.drain()
    await sink.aclose()
    events = EventStore(runtime.store)
    assert events.dead_letter_counts() == {"ringfence": 1}
    (letter,) = events.dead_letters("ringfence")
    assert letter.origin == "gateway" and "serve-outage-2" in letter.payload
