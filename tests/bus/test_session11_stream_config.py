"""Session 11 #2 and #3: the JetStream stream's replicas and retention come from monitor.yaml
and are applied to an existing stream (or refused clearly); analysing and store-only workers
are never mixed on one stream.

Before: the stream was created with 1 replica and a 7-day max age whatever the deployment
wanted, an existing stream was used as it was; and ``--store-only`` workers joined the
analysing workers' durable (``monitor``), taking batches that were then never analysed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from ringfence.bus import NatsBus
from ringfence.core.errors import ConfigError
from ringfence.monitor.events import Event
from ringfence.monitor.wiring import load_config, nats_options
from tests.services import NATS_URL, nats_names

pytestmark = pytest.mark.timeout(60)


@asynccontextmanager
async def _buses() -> AsyncIterator[Any]:
    """A factory of NatsBus on one stream of this test's own; the stream deleted after."""
    name = nats_names()
    made: list[NatsBus] = []

    def make(**kw: Any) -> NatsBus:
        kw.setdefault("durable", "w")
        bus = NatsBus(NATS_URL, stream=name, subject_prefix=name.lower(), ack_wait=5, **kw)
        made.append(bus)
        return bus

    try:
        yield make
    finally:
        cleaner = NatsBus(NATS_URL, stream=name, subject_prefix=name.lower())
        await cleaner.delete_stream()
        await cleaner.close()
        for bus in made:
            await bus.close()


async def _config(bus: NatsBus) -> Any:
    await bus.connect()
    return (await bus._js.stream_info(bus.stream)).config


async def test_stream_is_created_with_the_configured_retention() -> None:
    async with _buses() as make:
        config = await _config(make(max_age_days=2.5, replicas=1))
        assert config.max_age == pytest.approx(2.5 * 86400)
        assert config.num_replicas == 1


async def test_stream_defaults_are_one_replica_and_seven_days() -> None:
    async with _buses() as make:
        config = await _config(make())
        assert (config.num_replicas, config.max_age) == (1, pytest.approx(7 * 86400))


async def test_existing_stream_with_another_max_age_is_updated() -> None:
    async with _buses() as make:
        await _config(make())  # made by an older release: 7 days
        await make().publish([])  # a publisher that configures nothing changes nothing
        assert (await _config(make(max_age_days=30))).max_age == pytest.approx(30 * 86400)
        # a caller that does not configure it leaves it as it is
        assert (await _config(make())).max_age == pytest.approx(30 * 86400)


async def test_replicas_the_server_cannot_hold_are_a_clear_error() -> None:
    async with _buses() as make:
        with pytest.raises(ConfigError, match="replicas") as new:
            await make(replicas=3).connect()
        assert new.value.code == "nats_stream_config"
        await _config(make())
        with pytest.raises(ConfigError, match=r"asks for 3 replicas .* not clustered"):
            await make(replicas=3).connect()
        assert (await _config(make())).num_replicas == 1  # unchanged, not half-updated


async def test_existing_stream_with_other_subjects_is_a_clear_error() -> None:
    async with _buses() as make:
        bus = make()
        await bus.connect()
        other = NatsBus(NATS_URL, stream=bus.stream, subject_prefix="elsewhere")
        try:
            with pytest.raises(ConfigError, match="nats_subject_prefix"):
                await other.connect()
        finally:
            await other.close()


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ("nats_replicas: 0", "nats_replicas"),
        ("nats_replicas: 6", "nats_replicas"),
        ('nats_replicas: "3"', "nats_replicas"),
        ("nats_max_age_days: 0", "nats_max_age_days"),
        ("nats_max_age_days: -1", "nats_max_age_days"),
    ],
)
def test_bad_stream_settings_in_monitor_yaml_are_refused(
    tmp_path: Path, value: str, where: str
) -> None:
    (tmp_path / "monitor.yaml").write_text(value + "\n")
    with pytest.raises(ConfigError, match=where):
        load_config(tmp_path)


def test_monitor_yaml_stream_settings_reach_the_bus(tmp_path: Path) -> None:
    (tmp_path / "monitor.yaml").write_text("nats_replicas: 3\nnats_max_age_days: 14\n")
    options = nats_options(load_config(tmp_path))
    bus = NatsBus(NATS_URL, **options)
    assert (bus.replicas, bus.max_age_days, bus.stream) == (3, 14.0, "RINGFENCE_EVENTS")


def test_bad_values_given_to_the_bus_are_refused() -> None:
    for kw in ({"replicas": 0}, {"max_age_days": 0.0}, {"mode": "fast"}):
        with pytest.raises(ConfigError):
            NatsBus(NATS_URL, **kw)  # type: ignore[arg-type]


async def _start(bus: NatsBus) -> tuple[asyncio.Task[None], asyncio.Event]:
    stop = asyncio.Event()

    def handler(events: Sequence[Event]) -> int:
        return len(events)

    task = asyncio.create_task(bus.run_worker(handler, stop))
    for _ in range(100):  # until its durable exists
        if bus._js is not None:
            try:
                await bus._js.consumer_info(bus.stream, bus.durable)
                break
            except Exception:
                pass
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    return task, stop


@pytest.mark.parametrize("durable", ["w", "w2"])
async def test_store_only_worker_is_refused_on_a_stream_analysing_workers_read(
    durable: str,
) -> None:
    async with _buses() as make:
        task, stop = await _start(make())  # an analysing worker, durable "w"
        try:
            with pytest.raises(ConfigError, match="stored without being analysed") as err:
                await make(durable=durable, mode="store-only").run_worker(len, asyncio.Event())
            assert err.value.code == "bus_mode_conflict"
        finally:
            stop.set()
            await task


async def test_analysing_worker_is_refused_where_store_only_workers_read() -> None:
    async with _buses() as make:
        task, stop = await _start(make(mode="store-only"))
        try:
            with pytest.raises(ConfigError, match="store-only workers"):
                await make(durable="w3").run_worker(len, asyncio.Event())
        finally:
            stop.set()
            await task


async def test_workers_of_one_mode_share_a_durable() -> None:
    async with _buses() as make:
        first, stop1 = await _start(make(mode="store-only"))
        second, stop2 = await _start(make(mode="store-only"))
        stop1.set()
        stop2.set()
        await asyncio.gather(first, second)


async def test_a_durable_of_an_older_release_counts_as_analysing() -> None:
    async with _buses() as make:
        bus = make()
        await bus.connect()
        config = bus._consumer_config()
        config.description = None
        await bus._js.add_consumer(bus.stream, config)
        with pytest.raises(ConfigError, match="analysing workers"):
            await make(mode="store-only").run_worker(len, asyncio.Event())
