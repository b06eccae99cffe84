"""Session 13 (bus review, high): gateway workers share one audit spool. Two sinks on one
spool lost ~half the events: one sink deleted the shared ``.replay`` file another had just
taken the spool into, that sink's publishing loop died on FileNotFoundError, and everything it
queued afterwards was dropped at close. And a close while the bus stalled dropped the queue."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import orjson

from ringfence.gateway.audit import AuditEvent, CallableAuditSink


def _event(n: int) -> AuditEvent:
    return AuditEvent(
        time="2026-01-01T00:00:00Z",
        request_id=f"r{n}",
        method="GET",
        status=200,
        decision="allow",
        reason="ok",
        latency_ms=1.0,
    )


def _on_disk(folder: Path) -> set[str]:
    ids: set[str] = set()
    for p in folder.iterdir():
        if p.suffix in (".lock", ".replaying"):
            continue
        ids |= {orjson.loads(line)["request_id"] for line in p.read_bytes().splitlines() if line}
    return ids


async def test_sinks_sharing_a_spool_lose_nothing_while_the_bus_flaps(tmp_path: Path) -> None:
    spool = tmp_path / "gateway-audit.spool.jsonl"
    rnd = random.Random(13)
    up = False
    published: list[str] = []

    async def publish(rec: dict[str, object]) -> None:
        await asyncio.sleep(rnd.random() * 0.002)
        if not up:
            raise ConnectionError("bus down")
        published.append(str(rec["request_id"]))

    sinks = [CallableAuditSink(publish, spool=spool, replay_every=0.01) for _ in range(3)]
    n = 0
    for round_ in range(24):
        up = round_ % 2 == 1
        for k in range(30):
            sinks[k % len(sinks)].emit(_event(n))
            n += 1
        await asyncio.sleep(0.03)
    up = True
    for _ in range(60):
        await asyncio.sleep(0.05)
        if len(set(published)) == n:
            break
    for sink in sinks:
        assert sink._task is not None and not sink._task.done(), "a publishing loop died"
        await sink.aclose()
    missing = {f"r{i}" for i in range(n)} - set(published) - _on_disk(tmp_path)
    assert not missing, f"{len(missing)} of {n} audit events lost"


async def test_close_spools_what_a_stalled_bus_did_not_take(tmp_path: Path) -> None:
    spool = tmp_path / "gateway-audit.spool.jsonl"
    stalled = asyncio.Event()

    async def publish(rec: dict[str, object]) -> None:
        await stalled.wait()  # a NATS server that accepts the connection and never acks

    sink = CallableAuditSink(publish, spool=spool, batch=10)
    for i in range(35):
        sink.emit(_event(i))
    await asyncio.sleep(0.05)
    await sink.aclose(max_wait=0.2)
    assert _on_disk(tmp_path) == {f"r{i}" for i in range(35)}
