"""The event bus interface: publish batches of events; run a worker that hands batches to a
handler and acknowledges them only after the handler returned (i.e. after they are stored).

A handler that raises gets the batch redelivered later, so handlers must be idempotent —
``Monitor.process`` is, by event id (one transaction stores and analyses a batch). A message
a bus gives up on is handed to a ``DeadLetterSink``, never dropped silently. The bus never
interprets events beyond (de)serialising them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import orjson

from ringfence.monitor.events import Event

# A synchronous handler (run in a worker thread): returns how many events were new.
Handler = Callable[[Sequence[Event]], int]

# Where a bus hands a message it gives up on (its bytes and why), so nothing is lost silently:
# ``Monitor.dead_letter_message`` stores it in the monitor's dead letters. Run in a worker
# thread; raises if it could not store it.
DeadLetterSink = Callable[[bytes, str], None]


class EventBus(Protocol):
    async def publish(self, events: Sequence[Event]) -> None: ...

    async def run_worker(self, handler: Handler, stop: asyncio.Event) -> None: ...

    async def close(self) -> None: ...


def encode_batch(events: Sequence[Event]) -> bytes:
    return orjson.dumps([e.to_dict() for e in events])


def decode_batch(data: bytes) -> list[Event]:
    """Raises ValueError on anything that is not a list of event dicts."""
    try:
        items: Any = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"bus message is not JSON: {exc}") from None
    if not isinstance(items, list):
        raise ValueError("bus message must be a JSON list of events")
    try:
        return [Event.from_dict(d) for d in items]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"bus message holds a malformed event: {exc!r}") from None


def decode_items(data: bytes) -> tuple[list[Event], list[tuple[bytes, str]]]:
    """A bus message's events, and each item that is not an event (as JSON, with why): one
    malformed event must not take the rest of its message with it. Raises ValueError when the
    message as a whole is not a JSON list."""
    try:
        items: Any = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"bus message is not JSON: {exc}") from None
    if not isinstance(items, list):
        raise ValueError("bus message must be a JSON list of events")
    events: list[Event] = []
    bad: list[tuple[bytes, str]] = []
    for d in items:
        try:
            if not isinstance(d, dict):
                raise TypeError(f"an event is a JSON object, not {type(d).__name__}")
            events.append(Event.from_dict(d))
        except (KeyError, TypeError, ValueError, OverflowError, RecursionError) as exc:
            bad.append((orjson.dumps(d), f"malformed event in a bus message: {exc!r}"[:500]))
    return events, bad


def chunks(events: Sequence[Event], size: int) -> list[Sequence[Event]]:
    return [events[i : i + size] for i in range(0, len(events), size)]
