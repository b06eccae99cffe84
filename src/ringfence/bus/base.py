"""The event bus interface: publish batches of events; run a worker that hands batches to a
handler and acknowledges them only after the handler returned (i.e. after they are stored).

A handler that raises gets the batch redelivered later (up to ``max_deliver`` times), so
handlers must be idempotent — ``Monitor.process`` is, by event id. The bus never interprets
events beyond (de)serialising them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import orjson

from ringfence.monitor.events import Event

# A synchronous handler (run in a worker thread): returns how many events were new.
Handler = Callable[[Sequence[Event]], int]


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


def chunks(events: Sequence[Event], size: int) -> list[Sequence[Event]]:
    return [events[i : i + size] for i in range(0, len(events), size)]
