"""Review 10 finding #11: a batch larger than the NATS server's max payload is split, not
refused whole as "NATS unavailable" on every retry."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ringfence.bus import NatsBus
from ringfence.core.errors import ValidationError
from ringfence.monitor.events import Event
from ringfence.monitor.parsers import parser_for
from ringfence.monitor.service import Monitor
from ringfence.store.db import Store
from tests.monitor import records as R
from tests.services import own_nats_bus


@pytest.fixture
async def bus() -> AsyncIterator[NatsBus]:
    async with own_nats_bus(ack_wait=2.0) as b:
        yield b


def _okta_events(n: int, user_agent_bytes: int) -> list[Event]:
    parse = parser_for("okta")
    out: list[Event] = []
    for i in range(n):
        rec = R.okta(uuid=f"large-{i}")
        rec["client"]["userAgent"]["rawUserAgent"] = "M" * user_agent_bytes
        out.extend(parse(rec))
    return out


@pytest.mark.timeout(60)
async def test_large_records_are_published_in_smaller_messages(
    bus: NatsBus, tmp_path: Path
) -> None:
    # ~1 MB of records (what one push body may hold): 2.5 MB or so once encoded as events
    events = _okta_events(150, 6000)
    await bus.publish(events)
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    store.migrate()
    monitor = Monitor(store)
    stop = asyncio.Event()
    worker = asyncio.create_task(bus.run_worker(monitor.process, stop))
    deadline = time.monotonic() + 30
    while monitor.events.count() < 150 and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.2)
    stop.set()
    await worker
    assert monitor.events.count() == 150
    store.dispose()


async def test_one_event_past_the_max_payload_is_a_clear_error(bus: NatsBus) -> None:
    (event,) = _okta_events(1, 1_100_000)
    with pytest.raises(ValidationError, match="more than the NATS server's max payload"):
        await bus.publish([event])
