"""Review 10 A4: the audit spool of ``CallableAuditSink`` loses no line when it is replayed.

Before, ``replay_spool`` read the whole spool, then unlinked it, while the spool's writer
appended from a worker thread (``asyncio.to_thread(flush)``): lines written between the read
and the unlink were deleted unread. A line that was not JSON (a write cut short by a crash)
failed the replay after the unlink and every line of the spool was gone. And the spool was
replayed only after a batch of new traffic went through: a gateway idle after an outage kept
its spooled events to itself.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import orjson

from ringfence.gateway.audit import CallableAuditSink
from tests.gateway.test_audit_ops import _event


def _spooled(path: Path) -> list[str]:
    out: list[str] = []
    for p in (path, path.with_name(path.name + ".replay")):
        if p.exists():
            out += [orjson.loads(x)["request_id"] for x in p.read_bytes().splitlines() if x]
    return out


async def test_lines_spooled_while_a_replay_runs_are_not_lost(tmp_path: Path) -> None:
    delivered: list[str] = []

    async def publish(event: dict[str, Any]) -> None:
        delivered.append(event["request_id"])

    spool = tmp_path / "spool.jsonl"
    sink = CallableAuditSink(publish, spool=spool)
    writer = sink._spool
    assert writer is not None
    total = 4000
    done = threading.Event()

    def append() -> None:
        # what the spool's flush task does: append from a worker thread
        for i in range(total):
            writer._buf.append(orjson.dumps(_event(i)) + b"\n")
            writer.flush()
        done.set()

    thread = threading.Thread(target=append)
    thread.start()
    while not done.is_set():
        await sink.replay_spool()
        await asyncio.sleep(0)
    thread.join()
    await sink.replay_spool()
    await sink.aclose()
    assert sorted(delivered + _spooled(spool)) == sorted(f"r{i}" for i in range(total))


async def test_a_line_that_is_not_json_is_kept_and_the_rest_replayed(tmp_path: Path) -> None:
    delivered: list[str] = []

    async def publish(event: dict[str, Any]) -> None:
        delivered.append(event["request_id"])

    spool = tmp_path / "spool.jsonl"
    good = [orjson.dumps(_event(i)) for i in range(3)]
    spool.write_bytes(good[0] + b"\n" + b'{"time": "2026-01-01T0' + b"\n" + b"\n".join(good[1:]))
    sink = CallableAuditSink(publish, spool=spool)
    assert await sink.replay_spool() == 3
    assert delivered == ["r0", "r1", "r2"]
    assert not spool.exists()
    # kept aside for a person to look at, not replayed again and again
    assert (tmp_path / "spool.jsonl.unreadable").read_bytes() == b'{"time": "2026-01-01T0\n'
    await sink.aclose()


async def test_a_replay_while_the_bus_is_still_down_keeps_every_line(tmp_path: Path) -> None:
    calls = 0

    async def publish(event: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError("bus down")

    spool = tmp_path / "spool.jsonl"
    spool.write_bytes(b"".join(orjson.dumps(_event(i)) + b"\n" for i in range(50)))
    sink = CallableAuditSink(publish, spool=spool)
    assert await sink.replay_spool() == 0
    assert calls == 1  # stops at the first failure instead of trying every line
    assert _spooled(spool) == [f"r{i}" for i in range(50)]
    await sink.aclose()


async def test_the_spool_is_replayed_without_new_traffic(tmp_path: Path) -> None:
    delivered: list[str] = []
    bus_up = False

    async def publish(event: dict[str, Any]) -> None:
        if not bus_up:
            raise ConnectionError("bus down")
        delivered.append(event["request_id"])

    spool = tmp_path / "spool.jsonl"
    sink = CallableAuditSink(publish, spool=spool, replay_every=0.1)
    for i in range(5):
        sink.emit(_event(i))
    await sink.drain()
    assert delivered == []
    bus_up = True  # the bus is back; the gateway gets no request from now on
    for _ in range(400):  # up to 20 s: the machine may be loaded
        if len(delivered) == 5 and not _spooled(spool):
            break
        await asyncio.sleep(0.05)
    await sink.aclose()
    assert sorted(delivered) == [f"r{i}" for i in range(5)]
    assert _spooled(spool) == []


async def test_a_replay_interrupted_midway_is_finished_by_the_next(tmp_path: Path) -> None:
    delivered: list[str] = []

    async def publish(event: dict[str, Any]) -> None:
        delivered.append(event["request_id"])

    spool = tmp_path / "spool.jsonl"
    # a process stopped during a replay leaves its replay file behind
    replay = spool.with_name(spool.name + ".replay")
    replay.write_bytes(b"".join(orjson.dumps(_event(i)) + b"\n" for i in range(3)))
    spool.write_bytes(orjson.dumps(_event(7)) + b"\n")
    sink = CallableAuditSink(publish, spool=spool)
    assert await sink.replay_spool() == 4
    assert sorted(delivered) == ["r0", "r1", "r2", "r7"]
    assert not replay.exists()
    await sink.aclose()
