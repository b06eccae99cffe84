"""Review 10 finding #7: with NATS configured, the push API publishes to the stream the monitor
workers consume, instead of storing and analysing in the API process (where pushed vendor
records never met the gateway's events in the workers' correlation windows)."""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from ringfence.api import create_app
from ringfence.bus import NatsBus
from ringfence.core.clock import FixedClock
from ringfence.core.config import load_settings
from ringfence.monitor.service import Monitor
from ringfence.monitor.storage import EventStore
from ringfence.runtime import Runtime, initialise
from ringfence.store.apitokens import ApiTokens
from tests.monitor import records as R
from tests.services import NATS_URL, own_nats_bus


@pytest.fixture
async def bus() -> AsyncIterator[NatsBus]:
    async with own_nats_bus(ack_wait=2.0) as b:
        yield b


def _nats_runtime(
    tmp_path: Path, bus: NatsBus, url: str, monkeypatch: pytest.MonkeyPatch
) -> Runtime:
    monkeypatch.setenv("RINGFENCE_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    settings = load_settings(data_dir=tmp_path / "data", nats_url=url)
    initialise(settings)
    (settings.data_dir / "monitor.yaml").write_text(
        f"nats_stream: {bus.stream}\nnats_subject_prefix: {bus.subject_prefix}\n"
    )
    return Runtime.open(settings, clock=FixedClock())


def _push(rt: Runtime, body: bytes) -> tuple[int, dict[str, object]]:
    token = ApiTokens(rt.store, rt.clock).issue("shipper", ["read", "write"], 30)
    headers = {
        "Authorization": f"Bearer {token.token.get_secret_value()}",
        "Content-Type": "application/json",
    }
    with TestClient(create_app(rt), raise_server_exceptions=False) as c:
        r = c.post("/api/v1/monitor/ingest/okta", content=body, headers=headers)
        return r.status_code, r.json()


@pytest.mark.timeout(60)
async def test_a_push_is_published_for_the_workers(
    bus: NatsBus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = _nats_runtime(tmp_path, bus, NATS_URL, monkeypatch)
    try:
        body = b"\n".join(orjson.dumps(R.okta(uuid=f"p{i}")) for i in range(30)) + b"\ngarbage\n"
        status, report = await asyncio.to_thread(_push, rt, body)
        assert status == 200, report
        assert report["events"] == 30 and report["dead_lettered"] == 1
        assert report["published"] == 30
        # nothing stored by the API process: the workers do it
        assert EventStore(rt.store).count() == 0
        monitor = Monitor(rt.store)
        stop = asyncio.Event()
        worker = asyncio.create_task(bus.run_worker(monitor.process, stop))
        deadline = time.monotonic() + 20
        while EventStore(rt.store).count() < 30 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        stop.set()
        await worker
        assert EventStore(rt.store).count() == 30
    finally:
        rt.close()


async def test_nats_down_is_a_503_without_its_credentials(
    bus: NatsBus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = _nats_runtime(tmp_path, bus, "nats://shipper:s3cret-Pw-77@127.0.0.1:1", monkeypatch)
    try:
        status, report = await asyncio.to_thread(
            _push, rt, orjson.dumps(R.okta(uuid="down")) + b"\n"
        )
        assert status == 503, report
        assert "s3cret-Pw-77" not in orjson.dumps(report).decode()
        assert EventStore(rt.store).count() == 0
    finally:
        rt.close()
