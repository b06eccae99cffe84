"""A store outage must not lose what the bus holds (review 10, finding #1).

Before: the durable had ``max_deliver`` 10 and the worker ``nak``-ed a failed batch with a 1 s
delay, so a PostgreSQL outage of about ten seconds made JetStream discard every batch in
flight — gone, with nothing pending. Against the real NATS server and a real PostgreSQL
database made unreachable (``ALLOW_CONNECTIONS false`` + its sessions terminated).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator, Sequence

import pytest
from nats.js import api
from sqlalchemy import create_engine, text

from ringfence.bus import NatsBus
from ringfence.monitor.events import Event
from ringfence.monitor.service import Monitor
from ringfence.store.db import Store
from tests.bus.conftest import gateway_events
from tests.services import NATS_URL, PG_ADMIN_URL, nats_names, postgres_database


@pytest.fixture
async def bus() -> AsyncIterator[NatsBus]:
    name = nats_names()
    b = NatsBus(
        NATS_URL,
        stream=name,
        subject_prefix=name.lower(),
        durable="w",
        ack_wait=2.0,
        max_deliver=3,
    )
    try:
        yield b
    finally:
        await b.delete_stream()
        await b.close()


class _Outage:
    """Makes one PostgreSQL database unreachable and reachable again."""

    def __init__(self, url: str) -> None:
        self.db = url.rsplit("/", 1)[1]
        self.admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")

    def set(self, down: bool) -> None:
        with self.admin.connect() as c:
            allow = "false" if down else "true"
            c.execute(text(f'ALTER DATABASE "{self.db}" ALLOW_CONNECTIONS {allow}'))
            if down:
                c.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"
                    ),
                    {"d": self.db},
                )


@pytest.fixture
def pg() -> Iterator[tuple[Store, _Outage]]:
    with postgres_database() as url:
        store = Store(url)
        store.migrate()
        outage = _Outage(url)
        try:
            yield store, outage
        finally:
            outage.set(False)
            store.dispose()
            outage.admin.dispose()


async def _until(predicate, within: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.2)
    return False


@pytest.mark.timeout(90)
async def test_store_outage_longer_than_max_deliver_loses_nothing(
    bus: NatsBus, pg: tuple[Store, _Outage]
) -> None:
    store, outage = pg
    monitor = Monitor(store)
    outage.set(True)
    await bus.publish(gateway_events(400, tag="outage"))
    stop = asyncio.Event()
    worker = asyncio.create_task(bus.run_worker(monitor.process, stop))
    try:
        # Longer than max_deliver (3) deliveries at the first retry delay (1 s).
        await asyncio.sleep(8)
        assert await bus.pending() != (0, 0), "the batches in the outage were discarded"
        outage.set(False)

        async def all_stored() -> bool:
            return await asyncio.to_thread(monitor.events.count) == 400

        assert await _until(all_stored, 45), f"stored {monitor.events.count()} of 400"
        assert await _until(lambda: _drained(bus), 10)
    finally:
        stop.set()
        await worker


async def _drained(bus: NatsBus) -> bool:
    return await bus.pending() == (0, 0)


@pytest.mark.timeout(60)
async def test_a_message_that_keeps_failing_is_kept_and_does_not_hold_back_the_others(
    bus: NatsBus, tmp_path: object
) -> None:
    bus.batch_size = 10  # 5 messages of 10 events
    events = gateway_events(50, tag="poison")
    doomed = {e.id for e in events[20:30]}  # the third message
    stored: set[str] = set()
    healed = asyncio.Event()

    def handler(batch: Sequence[Event]) -> int:
        if not healed.is_set() and doomed & {e.id for e in batch}:
            raise RuntimeError("this batch fails for a reason that is not its data")
        stored.update(e.id for e in batch)
        return len(batch)

    await bus.publish(events)
    stop = asyncio.Event()
    worker = asyncio.create_task(bus.run_worker(handler, stop))
    try:

        async def others_stored() -> bool:
            return len(stored) == 40

        assert await _until(others_stored, 20)
        # Past max_deliver (3): still held by the stream, never discarded.
        await asyncio.sleep(6)
        assert await bus.pending() == (0, 1)
        healed.set()

        async def all_stored() -> bool:
            return len(stored) == 50

        assert await _until(all_stored, 40)
    finally:
        stop.set()
        await worker


async def test_an_existing_durable_with_a_delivery_limit_is_updated(bus: NatsBus) -> None:
    await bus.connect()
    js = bus._js
    await js.add_consumer(
        bus.stream,
        api.ConsumerConfig(
            durable_name=bus.durable,
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=bus.ack_wait,
            max_deliver=10,  # what earlier releases created
            max_ack_pending=1000,
            filter_subject=bus.subjects,
        ),
    )
    stop = asyncio.Event()
    stop.set()
    await bus.run_worker(lambda events: 0, stop)
    info = await js.consumer_info(bus.stream, bus.durable)
    assert (info.config.max_deliver or -1) <= 0
