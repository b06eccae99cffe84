"""NATS JetStream bus against the real server on 127.0.0.1:4222 (own stream names, deleted)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from ringfence.bus import NatsBus
from ringfence.monitor.events import Event
from ringfence.monitor.service import Monitor
from ringfence.store.db import Store
from tests.bus.conftest import gateway_events
from tests.services import NATS_URL, own_nats_bus, postgres_database

# The kill/restart test size: 20k in the suite (~10 s); RINGFENCE_BUS_KILL_EVENTS=100000 for the
# full-size run described in docs/monitoring.md.
KILL_EVENTS = int(os.environ.get("RINGFENCE_BUS_KILL_EVENTS", "20000"))


@pytest.fixture
async def bus() -> AsyncIterator[NatsBus]:
    async with own_nats_bus(ack_wait=1.0) as b:
        yield b


async def _until(predicate, within: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not reached in time")


async def test_handler_failure_is_redelivered_and_stored_once(bus: NatsBus, tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    store.migrate()
    monitor = Monitor(store)
    calls = {"n": 0}

    def crash_once(events: Sequence[Event]) -> int:
        calls["n"] += 1
        n = monitor.process(events)
        if calls["n"] == 1:
            raise RuntimeError("crashed after storing, before ack")
        return n

    events = gateway_events(1000)
    await bus.publish(events)
    await bus.publish(events)  # same batches again: dropped by the stream's duplicate window
    stop = asyncio.Event()
    worker = asyncio.create_task(bus.run_worker(crash_once, stop))

    async def done() -> bool:
        return await bus.pending() == (0, 0) and monitor.events.count() == 1000

    await _until(done, 20)
    stop.set()
    await worker
    assert monitor.events.count_distinct_ids() == 1000
    assert bus.redeliveries >= 1
    store.dispose()


async def test_unreachable_nats_is_unavailable() -> None:
    from ringfence.core.errors import UnavailableError

    b = NatsBus("nats://127.0.0.1:1", stream="X")
    with pytest.raises(UnavailableError, match="NATS unreachable"):
        await b.publish(gateway_events(1))


def _worker(nats_stream: str, store_url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ringfence.monitor.worker",
            "--nats",
            NATS_URL,
            "--store-url",
            store_url,
            "--stream",
            nats_stream,
            "--prefix",
            nats_stream.lower(),
            "--durable",
            "w",
            "--ack-wait",
            "2",
            "--store-only",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.timeout(120)
async def test_worker_killed_mid_stream_leaves_every_event_stored_exactly_once(
    bus: NatsBus,
) -> None:
    with postgres_database() as url:
        store = Store(url)
        store.migrate()
        monitor = Monitor(store)
        events = gateway_events(KILL_EVENTS, tag="kill")
        workers = [_worker(bus.stream, url), _worker(bus.stream, url)]
        try:
            started = time.monotonic()
            await bus.publish(events)
            await _until(lambda: _ready(monitor, KILL_EVENTS // 4), 60)
            workers[0].send_signal(signal.SIGKILL)
            workers[0].wait()
            assert monitor.events.count() < KILL_EVENTS, "killed too late to prove anything"
            workers[0] = _worker(bus.stream, url)

            async def all_done() -> bool:
                return await bus.pending() == (0, 0) and monitor.events.count() >= KILL_EVENTS

            await _until(all_done, 90)
            elapsed = time.monotonic() - started
            assert monitor.events.count() == KILL_EVENTS
            assert monitor.events.count_distinct_ids() == KILL_EVENTS
            print(f"{KILL_EVENTS} events via NATS, one worker killed: {elapsed:.1f}s")
        finally:
            for w in workers:
                if w.poll() is None:
                    w.terminate()
                    try:
                        w.wait(10)
                    except subprocess.TimeoutExpired:
                        w.kill()
                        w.wait()
            store.dispose()


async def _ready(monitor: Monitor, n: int) -> bool:
    return monitor.events.count() >= n


async def test_cli_ingest_publishes_to_nats_and_a_worker_stores(
    bus: NatsBus, runtime: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import orjson
    from typer.testing import CliRunner

    from ringfence.cli.app import app as cli_app
    from tests.monitor import records as R

    data_dir = tmp_path / "data"
    (data_dir / "monitor.yaml").write_text(
        f"nats_stream: {bus.stream}\nnats_subject_prefix: {bus.subject_prefix}\n"
    )
    monkeypatch.setenv("RINGFENCE_NATS_URL", NATS_URL)
    f = tmp_path / "okta.ndjson"
    f.write_bytes(b"\n".join(orjson.dumps(R.okta(uuid=f"n{i}")) for i in range(30)) + b"\nbad\n")
    res = await asyncio.to_thread(
        CliRunner().invoke, cli_app, ["ingest", "-s", "okta", str(f), "--data-dir", str(data_dir)]
    )
    assert res.exit_code == 0, res.output
    assert "30 events published to NATS, 1 dead-lettered" in res.output
    monitor = Monitor(runtime.store)
    stop = asyncio.Event()
    task = asyncio.create_task(bus.run_worker(monitor.process, stop))

    async def stored() -> bool:
        return monitor.events.count() == 30

    await _until(stored, 20)
    stop.set()
    await task
