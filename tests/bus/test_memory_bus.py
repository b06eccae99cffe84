from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from ringfence.bus import InProcessBus, decode_batch, encode_batch
from ringfence.monitor.events import Event
from ringfence.monitor.service import Monitor
from ringfence.store.db import Store
from tests.bus.conftest import gateway_events


def test_encode_decode_roundtrip() -> None:
    events = gateway_events(3)
    back = decode_batch(encode_batch(events))
    assert [e.to_dict() for e in back] == [e.to_dict() for e in events]


@pytest.mark.parametrize("data", [b"nope", b"{}", b'[{"id": 1}]'])
def test_decode_rejects_malformed_messages(data: bytes) -> None:
    with pytest.raises(ValueError):
        decode_batch(data)


async def test_two_workers_store_everything_once_despite_failures(sqlite_store: Store) -> None:
    monitor = Monitor(sqlite_store)
    failures = {"left": 3}

    def flaky(events: Sequence[Event]) -> int:
        # store first, then fail: the redelivery must not duplicate anything
        n = monitor.process(events)
        if failures["left"] > 0:
            failures["left"] -= 1
            raise RuntimeError("worker crashed after storing")
        return n

    bus = InProcessBus(batch_size=100)
    stop = asyncio.Event()
    workers = [asyncio.create_task(bus.run_worker(flaky, stop)) for _ in range(2)]
    events = gateway_events(2000)
    await bus.publish(events)
    await bus.publish(events[:500])  # a duplicate publish
    await asyncio.wait_for(bus.drain(), 30)
    stop.set()
    await asyncio.gather(*workers)
    assert bus.redelivered == 3 and bus.dropped == 0
    assert monitor.events.count() == 2000 == monitor.events.count_distinct_ids()


async def test_poison_message_is_dropped_not_retried_forever(sqlite_store: Store) -> None:
    bus = InProcessBus(max_deliver=3)

    def always_fails(events: Sequence[Event]) -> int:
        raise RuntimeError("boom")

    stop = asyncio.Event()
    task = asyncio.create_task(bus.run_worker(always_fails, stop))
    await bus.publish(gateway_events(5))
    await asyncio.wait_for(bus.drain(), 10)
    stop.set()
    await task
    assert bus.dropped == 1 and bus.redelivered == 2
