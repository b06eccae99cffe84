"""Session 11 review: one odd event never poisons its batch.

* an analyser that fails on one event (not an outage): that event is dead-lettered with the
  reason, the rest of the batch is stored and analysed (before, the whole batch failed on every
  delivery: stuck for ever on NATS, whose durable has no delivery limit);
* an outage in an analyser still fails the whole batch (delivered again), dead-letters nothing;
* a bus message with one malformed event: the others are handled, the malformed one is
  dead-lettered alone (before, the whole message was terminated / dropped).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import orjson
import pytest

from ringfence.bus import InProcessBus
from ringfence.bus.base import decode_items
from ringfence.bus.memory import _Item
from ringfence.core.clock import FixedClock
from ringfence.monitor.alerts import AlertStore, Finding
from ringfence.monitor.events import Event
from ringfence.monitor.service import Monitor
from ringfence.store.db import Store
from tests.bus.conftest import T0, gateway_events


class ChokesOn:
    """Raises an alert per event, and a bug on the events whose id is in ``poison``."""

    def __init__(self, alerts: AlertStore, poison: set[str], error: Exception) -> None:
        self.alerts, self.poison, self.error = alerts, poison, error

    def analyse(self, events: Sequence[Event]) -> None:
        if any(e.id in self.poison for e in events):
            raise self.error
        self.alerts.raise_findings(
            [Finding("t.seen", "seen", "low", "rule", e.id, "seen", e.time, [e]) for e in events]
        )


def test_event_whose_analysis_fails_is_dead_lettered_alone(sqlite_store: Store) -> None:
    events = gateway_events(40, tag="p")
    poison = {events[7].id, events[30].id}
    alerts = AlertStore(sqlite_store, FixedClock(T0))
    monitor = Monitor(sqlite_store, FixedClock(T0), [ChokesOn(alerts, poison, KeyError("x"))])
    assert monitor.process(events) == 38
    assert monitor.events.count() == 38
    letters = monitor.events.dead_letters()
    assert len(letters) == 2
    assert all(d.reason.startswith("analysis failed: KeyError") for d in letters)
    assert monitor.analysis_failures == 2
    # every stored event was analysed once; the dead-lettered ones raised nothing
    raised = sorted(a.dedup_key for a in alerts.list(limit=100))
    assert raised == sorted(f"t.seen|{e.id}" for e in events if e.id not in poison)


def test_an_outage_in_analysis_fails_the_whole_batch(sqlite_store: Store) -> None:
    events = gateway_events(10, tag="o")
    alerts = AlertStore(sqlite_store, FixedClock(T0))
    analyser = ChokesOn(alerts, {events[3].id}, ConnectionError("down"))
    monitor = Monitor(sqlite_store, FixedClock(T0), [analyser])
    with pytest.raises(ConnectionError):
        monitor.process(events)
    assert monitor.events.count() == 0 and monitor.events.dead_letters() == []
    analyser.poison = set()  # the outage is over: the redelivery stores and analyses all
    assert monitor.process(events) == 10
    assert len(alerts.list()) == 10


def test_decode_items_keeps_the_good_events_of_a_message() -> None:
    good = gateway_events(3, tag="d")
    items = [e.to_dict() for e in good]
    items.insert(1, {"id": "x"})  # missing keys
    items.append(dict(items[0], actor={"not": "text"}, id="y"))
    items.append(7)
    events, bad = decode_items(orjson.dumps(items))
    assert [e.id for e in events] == [e.id for e in good]
    assert orjson.loads(bad[0][0]) == {"id": "x"}
    assert len(bad) == 3 and all("malformed event" in r for _, r in bad)


async def test_in_process_bus_handles_the_rest_of_a_message_with_a_bad_event(
    sqlite_store: Store,
) -> None:
    monitor = Monitor(sqlite_store)
    good = gateway_events(4, tag="m")
    items = [e.to_dict() for e in good]
    items.insert(2, {"id": "broken", "time": "yesterday"})
    bus = InProcessBus(dead_letter=monitor.dead_letter_message)
    await bus._queue.put(_Item(orjson.dumps(items)))
    stop = asyncio.Event()
    task = asyncio.create_task(bus.run_worker(monitor.process, stop))
    await asyncio.wait_for(bus.drain(), 10)
    stop.set()
    await task
    assert monitor.events.count() == 4
    (letter,) = monitor.events.dead_letters()
    assert orjson.loads(letter.payload) == {"id": "broken", "time": "yesterday"}
    assert bus.dead_lettered == 1 and bus.dropped == 0


def _outages() -> list[tuple[BaseException, bool]]:
    import psycopg
    from sqlalchemy import exc as sa_exc

    return [
        (sa_exc.OperationalError("SELECT 1", {}, Exception("server closed")), True),
        (sa_exc.TimeoutError("QueuePool limit"), True),
        (psycopg.OperationalError("connection lost"), True),
        (ConnectionError("refused"), True),
        (sa_exc.IntegrityError("INSERT", {}, Exception("dup")), False),
        (sa_exc.DataError("INSERT", {}, Exception("too long")), False),
        (KeyError("x"), False),
        (TypeError("unhashable"), False),
    ]


@pytest.mark.parametrize(("exc", "outage"), _outages())
def test_outages_are_told_from_odd_events(exc: BaseException, outage: bool) -> None:
    from ringfence.monitor.service import is_outage

    assert is_outage(exc) is outage


def test_an_unstorable_event_is_dead_lettered_once_however_often_its_batch_comes(
    sqlite_store: Store,
) -> None:
    """Before, the events of a batch that cannot be stored (a NUL in the actor) were
    dead-lettered before the batch's transaction, again on every delivery: a batch failing
    twice on an outage, then delivered a fourth time after a lost ack, left 4 dead letters."""
    from dataclasses import replace

    events = gateway_events(6, tag="u")
    events[2] = replace(events[2], actor="bad\x00actor")
    alerts = AlertStore(sqlite_store, FixedClock(T0))
    analyser = ChokesOn(alerts, {events[4].id}, ConnectionError("down"))
    monitor = Monitor(sqlite_store, FixedClock(T0), [analyser])
    for _ in range(2):
        with pytest.raises(ConnectionError):
            monitor.process(events)
    analyser.poison = set()
    assert monitor.process(events) == 5
    assert monitor.process(events) == 0  # the ack was lost: delivered again
    (letter,) = monitor.events.dead_letters()
    assert letter.reason == "NUL character in actor"
