"""Review 9: one record the store refuses (NUL in a stored column, nesting past the JSON
encoder's limit, a value out of range) is dead-lettered alone; the rest of its batch is stored,
on the push path, on the monitor path a bus worker calls, and through NATS."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from ringfence.api import create_app
from ringfence.bus import NatsBus
from ringfence.monitor.events import Event
from ringfence.monitor.parsers import parser_for
from ringfence.monitor.service import Monitor
from ringfence.monitor.storage import HuntQuery
from ringfence.runtime import Runtime
from ringfence.store.apitokens import ApiTokens
from ringfence.store.db import Store
from tests.monitor import records as R
from tests.services import NATS_URL, nats_names


def _deep(levels: int) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for _ in range(levels):
        doc = {"a": doc}
    return doc


def _okta(uid: str, **over: Any) -> dict[str, Any]:
    return R.okta(uuid=uid, published="2025-12-31T23:00:00.000Z", **over)


def _event(rec: dict[str, Any]) -> Event:
    (e,) = parser_for("okta")(rec)
    return e


@pytest.fixture
def client(runtime: Runtime) -> Iterator[tuple[TestClient, dict[str, str]]]:
    token = ApiTokens(runtime.store, runtime.clock).issue("shipper", ["read", "write"], 30)
    headers = {
        "Authorization": f"Bearer {token.token.get_secret_value()}",
        "Content-Type": "application/json",
    }
    with TestClient(create_app(runtime), raise_server_exceptions=False) as c:
        yield c, headers


def test_push_of_a_good_and_a_300_deep_record_keeps_the_good_one(client: tuple) -> None:
    c, headers = client
    body = (
        orjson.dumps(_okta("good"))
        + b"\n"
        + json.dumps(_okta("deep", debugContext=_deep(300))).encode()
        + b"\n"
        + orjson.dumps(_okta("nul", actor={"id": "x", "alternateId": "evil\x00@y"}))
        + b"\n"
    )
    r = c.post("/api/v1/monitor/ingest/okta", content=body, headers=headers)
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["new"], got["dead_lettered"]) == (1, 2)
    assert set(got["reasons"]) == {"record cannot be serialised", "NUL character in actor"}
    events = c.get("/api/v1/monitor/events", headers=headers).json()
    assert [e["raw"]["uuid"] for e in events] == ["good"]


def _poison(good: Event) -> list[Event]:
    nul = _event(_okta("nul", actor={"id": "x", "alternateId": "evil\x00@y"}))
    deep = _event(_okta("deep", debugContext=_deep(300)))
    # passes the screening but the engine refuses it (integer column out of range)
    huge = dataclasses.replace(_event(_okta("huge")), class_uid=2**70)
    return [nul, good, deep, huge]


def test_the_monitor_dead_letters_what_the_store_refuses_and_keeps_the_rest(
    store_url: str,
) -> None:
    store = Store(store_url)
    try:
        monitor = Monitor(store)
        good = _event(_okta("good"))
        assert monitor.process(_poison(good)) == 1
        assert monitor.events.count() == 1
        (stored,) = monitor.events.hunt(HuntQuery())
        assert stored.id == good.id
        letters = monitor.events.dead_letters()
        reasons = sorted(d.reason.split(":")[0] for d in letters)
        assert reasons == [
            "NUL character in actor",
            "record cannot be serialised",
            "refused by the store",
        ]
        assert all(d.origin == "monitor" for d in letters)
    finally:
        store.dispose()


async def test_a_poisoned_nats_batch_is_stored_and_dead_lettered_not_dropped(
    store_url: str,
) -> None:
    name = nats_names()
    bus = NatsBus(NATS_URL, stream=name, subject_prefix=name.lower(), durable="w", ack_wait=10.0)
    store = Store(store_url)
    try:
        monitor = Monitor(store)
        good = _event(_okta("good"))
        nul = _event(_okta("nul", actor={"id": "x", "alternateId": "evil\x00@y"}))
        await bus.publish([good, nul])
        stop = asyncio.Event()
        worker = asyncio.create_task(bus.run_worker(monitor.process, stop))
        for _ in range(200):  # at most 20 s
            if await bus.pending() == (0, 0):
                break
            await asyncio.sleep(0.1)
        stop.set()
        await worker
        assert await bus.pending() == (0, 0)
        assert bus.redeliveries == 0
        assert monitor.events.count() == 1
        assert monitor.events.dead_letter_counts() == {"okta": 1}
    finally:
        await bus.delete_stream()
        await bus.close()
        store.dispose()
