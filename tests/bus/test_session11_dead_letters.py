"""Session 11 #4: a bus never loses a batch silently.

Before, ``InProcessBus`` dropped a batch after ``max_deliver`` failed deliveries (all of them
in a few milliseconds, with no delay between) and an undecodable message at once, with a log
line and a counter only; the NATS bus terminated an undecodable message with a log line. Now
both hand such a message to a dead-letter store (``Monitor.dead_letter_message``: one dead
letter per event, or the message itself when it holds no events) and count it.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence

import pytest

from ringfence.bus import InProcessBus
from ringfence.bus.memory import _Item
from ringfence.monitor.events import Event, document_body
from ringfence.monitor.service import Monitor
from ringfence.store.db import Store
from tests.bus.conftest import gateway_events
from tests.services import own_nats_bus


async def _run(bus: InProcessBus, handler: object) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(bus.run_worker(handler, stop))  # type: ignore[arg-type]
    try:
        await asyncio.wait_for(bus.drain(), 10)
    finally:
        stop.set()
        await task


async def test_batch_failing_max_deliver_times_is_dead_lettered(sqlite_store: Store) -> None:
    monitor = Monitor(sqlite_store)

    def always_fails(events: Sequence[Event]) -> int:
        raise RuntimeError("boom")

    bus = InProcessBus(max_deliver=3, retry_delay=0.01, dead_letter=monitor.dead_letter_message)
    events = gateway_events(5, tag="dl")
    await bus.publish(events)
    await _run(bus, always_fails)
    assert (bus.dead_lettered, bus.dropped, bus.redelivered) == (1, 0, 2)
    letters = monitor.events.dead_letters()
    want = sorted(document_body(e.ocsf, e.raw).decode() for e in events)
    assert sorted(d.payload for d in letters) == want
    assert {d.origin for d in letters} == {"bus"}
    assert all("handler failed" in d.reason and "boom" in d.reason for d in letters)
    assert monitor.events.count() == 0


async def test_undecodable_message_is_dead_lettered_as_it_is(sqlite_store: Store) -> None:
    monitor = Monitor(sqlite_store)
    handled: list[int] = []
    bus = InProcessBus(dead_letter=monitor.dead_letter_message)
    await bus._queue.put(_Item(b'{"not": "a list"}'))
    await bus.publish(gateway_events(3, tag="ok"))
    await _run(bus, lambda events: handled.append(len(events)) or len(events))
    assert handled == [3]
    assert (bus.dead_lettered, bus.dropped) == (1, 0)
    (letter,) = monitor.events.dead_letters()
    assert letter.payload == '{"not": "a list"}' and "must be a JSON list" in letter.reason


async def test_a_short_outage_is_ridden_out_with_growing_delays(sqlite_store: Store) -> None:
    monitor = Monitor(sqlite_store)
    calls: list[float] = []
    loop = asyncio.get_running_loop()

    def flaky(events: Sequence[Event]) -> int:
        calls.append(loop.time())
        if len(calls) < 4:
            raise ConnectionError("store down")
        return monitor.process(events)

    bus = InProcessBus(max_deliver=5, retry_delay=0.02, dead_letter=monitor.dead_letter_message)
    await bus.publish(gateway_events(10, tag="out"))
    await _run(bus, flaky)
    assert monitor.events.count() == 10 and bus.dead_lettered == 0
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert gaps[0] >= 0.015 and gaps[2] >= 0.07  # 0.02, 0.04, 0.08 s


async def test_dead_lettering_that_fails_is_counted_as_lost(sqlite_store: Store) -> None:
    def store_down(data: bytes, reason: str) -> None:
        raise ConnectionError("store down")

    bus = InProcessBus(max_deliver=1, dead_letter=store_down)
    await bus.publish(gateway_events(2, tag="lost"))
    await _run(bus, lambda events: 1 / 0)
    assert (bus.dead_lettered, bus.dropped) == (0, 1)


@pytest.mark.timeout(60)
async def test_nats_undecodable_message_is_dead_lettered_then_terminated(
    sqlite_store: Store,
) -> None:
    monitor = Monitor(sqlite_store)
    async with own_nats_bus(ack_wait=5) as bus:
        bus.dead_letter = monitor.dead_letter_message
        await bus.connect()
        await bus._js.publish(f"{bus.subject_prefix}.events.ringfence", b"not json")
        await bus.publish(gateway_events(4, tag="nats-ok"))
        stop = asyncio.Event()
        worker = asyncio.create_task(bus.run_worker(monitor.process, stop))
        try:
            for _ in range(200):
                if monitor.events.count() == 4 and await bus.pending() == (0, 0):
                    break
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await worker
        assert await bus.pending() == (0, 0)
    assert monitor.events.count() == 4
    (letter,) = monitor.events.dead_letters()
    assert letter.payload == "not json" and "undecodable" in letter.reason
