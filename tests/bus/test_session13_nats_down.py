"""Session 13 bus review: NATS itself stalled, killed or gone for longer than the client's
reconnect window — the promise is "an audit event per request; if the bus is down, spool to
local disk and replay — none lost", which needs ``publish`` to fail (so the gateway spools)
rather than hang, and publishers and workers to come back when NATS does.

Against a nats-server of the test's own (``PrivateNats``), which it stalls and kills.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from ringfence.bus import NatsBus
from ringfence.core.errors import UnavailableError
from ringfence.gateway.audit import AuditEvent, CallableAuditSink
from ringfence.monitor.events import Event
from ringfence.monitor.gateway_feed import gateway_publisher
from tests.bus.conftest import gateway_events
from tests.bus.private_nats import PrivateNats


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PrivateNats]:
    srv = PrivateNats(tmp_path / "js")
    srv.start()
    try:
        yield srv
    finally:
        srv.kill()


def _bus(server: PrivateNats, **kw: object) -> NatsBus:
    return NatsBus(server.url, stream="S13", subject_prefix="s13", **kw)  # type: ignore[arg-type]


def _state(task: asyncio.Task[None]) -> str:
    """What became of the worker, for a failure message (a crashed task is otherwise silent)."""
    if not task.done():
        return "worker still running"
    return f"worker ended: {task.exception()!r}" if not task.cancelled() else "worker cancelled"


async def _until(predicate, within: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.1)
    return False


@pytest.mark.timeout(60)
async def test_a_publish_to_a_stalled_server_fails_instead_of_hanging(
    server: PrivateNats,
) -> None:
    """Before: the JetStream acks were awaited without a bound. A stalled server (or an ack
    lost in a restart) hung ``publish`` for ever — and with it the gateway's audit loop, so
    nothing reached the spool and everything queued behind it was lost at the next restart."""
    bus = _bus(server, publish_timeout=1.0)
    try:
        await bus.publish(gateway_events(3, tag="before"))
        server.stall()
        started = time.monotonic()
        with pytest.raises(UnavailableError) as info:
            await asyncio.wait_for(bus.publish(gateway_events(3, tag="stalled")), 15)
        assert time.monotonic() - started < 5
        assert "no acknowledgement" in str(info.value)
    finally:
        server.resume()
        await asyncio.wait_for(bus.close(), 10)


@pytest.mark.timeout(150)
async def test_publisher_and_worker_come_back_after_an_outage_longer_than_reconnecting(
    server: PrivateNats,
) -> None:
    """Before: nats-py gives up reconnecting after 60 attempts (~30 s) and closes the client
    for good. Every later publish failed with ConnectionClosedError although NATS was back (the
    gateway spooled for ever and never replayed; the ingest API answered 503 until a restart),
    and the monitor worker died with it."""
    publisher = _bus(server)
    worker_bus = _bus(server, durable="w", ack_wait=5.0)
    got: set[str] = set()

    def handler(batch: Sequence[Event]) -> int:
        got.update(e.id for e in batch)
        return len(batch)

    stop = asyncio.Event()
    worker = asyncio.create_task(worker_bus.run_worker(handler, stop))
    try:
        first = gateway_events(5, tag="first")
        await publisher.publish(first)
        assert await _until(lambda: len(got) == 5, 20), (got, _state(worker))
        server.kill()
        with pytest.raises(UnavailableError):
            await publisher.publish(gateway_events(1, tag="down"))
        # Longer than the client's own reconnect attempts (60 x 0.5 s plus the attempts).
        assert await _until(lambda: publisher._nc is None or publisher._nc.is_closed, 90), (
            "the client never gave up"
        )
        await asyncio.sleep(2)
        assert not worker.done(), f"the worker stopped: {worker.exception()!r}"
        server.start()
        later = gateway_events(5, tag="later")
        # JetStream may take a moment to recover its streams; before, every attempt failed
        # with ConnectionClosedError for good
        deadline = time.monotonic() + 30
        while True:
            try:
                await publisher.publish(later)
                break
            except UnavailableError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
        assert await _until(lambda: {e.id for e in later} <= got, 30), "the worker never came back"
    finally:
        stop.set()
        await asyncio.wait_for(worker, 20)
        await publisher.close()
        await worker_bus.close()


@pytest.mark.timeout(30)
async def test_concurrent_first_publishes_share_one_connection(server: PrivateNats) -> None:
    """Before: the gateway publishes a batch of events concurrently, and every publish that
    found no connection yet opened one of its own — 20 connections, 19 leaked for good."""
    bus = _bus(server)
    try:
        await asyncio.gather(*(bus.publish([e]) for e in gateway_events(20, tag="c")))
        assert server.varz()["connections"] == 1
    finally:
        await bus.close()


def _audit_event(i: int, tag: str) -> AuditEvent:
    return AuditEvent(
        time=f"2026-01-05T09:00:{i % 60:02d}Z",
        request_id=f"{tag}-{i}",
        method="GET",
        status=200,
        decision="allow",
        reason="ok",
        latency_ms=1.0,
        integration="crm-sync",
        route="crm",
        path_template="/v1/items",
        upstream="api.example.com",
    )


@pytest.mark.timeout(90)
async def test_gateway_audit_events_are_spooled_while_nats_stalls_and_replayed_after(
    server: PrivateNats, tmp_path: Path
) -> None:
    """End to end, the gateway's sink over the bus: while the server is stalled every event
    reaches the spool within seconds; once it answers again the spool is replayed and every
    event reaches the stream (a copy the stalled server took anyway is dropped by its
    Nats-Msg-Id). Before, the sink's loop waited on the first stalled publish for ever:
    nothing was spooled, and the queue behind it died with the process."""
    bus = _bus(server, publish_timeout=1.0)
    spool = tmp_path / "gateway-audit.spool.jsonl"
    sink = CallableAuditSink(gateway_publisher(bus), spool=spool, replay_every=0.5)
    worker_bus = _bus(server, durable="w", ack_wait=5.0)
    got: list[str] = []

    def handler(batch: Sequence[Event]) -> int:
        got.extend(e.raw["request_id"] for e in batch)
        return len(batch)

    stop = asyncio.Event()
    worker: asyncio.Task[None] | None = None
    try:
        await bus.connect()
        server.stall()
        for i in range(30):
            sink.emit(_audit_event(i, "stalled"))

        def spooled() -> int:
            if not spool.exists():
                return 0
            return len(spool.read_bytes().splitlines())

        assert await _until(lambda: spooled() == 30, 20), f"{spooled()} of 30 spooled"
        server.resume()
        worker = asyncio.create_task(worker_bus.run_worker(handler, stop))
        sink.emit(_audit_event(99, "after"))
        assert await _until(lambda: len(set(got)) == 31, 30), f"{len(set(got))} of 31"
    finally:
        server.resume()
        stop.set()
        if worker is not None:
            await asyncio.wait_for(worker, 20)
        await sink.aclose()
        await bus.close()
        await worker_bus.close()


@pytest.mark.timeout(120)
async def test_a_server_back_without_its_storage_gets_the_stream_again(
    server: PrivateNats,
) -> None:
    """NATS restarted without its JetStream storage (a container without its volume) or the
    stream deleted: before, every publish failed for good with NoStreamResponseError (the
    gateway spooled for ever) and the worker fetched nothing for ever, silently. Now the
    publisher creates the stream again and the worker notices its durable is gone."""
    publisher = _bus(server)
    worker_bus = _bus(server, durable="w", ack_wait=5.0)
    got: set[str] = set()

    def handler(batch: Sequence[Event]) -> int:
        got.update(e.id for e in batch)
        return len(batch)

    stop = asyncio.Event()
    worker = asyncio.create_task(worker_bus.run_worker(handler, stop))
    try:
        await publisher.publish(gateway_events(3, tag="first"))
        assert await _until(lambda: len(got) == 3, 20), got
        server.kill()
        shutil.rmtree(server.store_dir)
        server.start()
        later = gateway_events(3, tag="later")
        deadline = time.monotonic() + 30
        while True:  # the clients reconnect first
            try:
                await publisher.publish(later)
                break
            except UnavailableError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
        assert await _until(lambda: {e.id for e in later} <= got, 45), "the worker never resumed"
    finally:
        stop.set()
        await asyncio.wait_for(worker, 20)
        await publisher.close()
        await worker_bus.close()
