"""In-process event bus (the embedded default): an asyncio queue shared by competing workers.

Same contract as NATS: a batch is removed for good only after the handler returned; a handler
error puts it back (up to ``max_deliver`` attempts, then it is counted as dropped and logged).
Nothing survives a process restart — that is what the NATS bus is for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from ringfence.bus.base import Handler, chunks, decode_batch, encode_batch
from ringfence.core.logging import get_logger
from ringfence.monitor.events import Event

_log = get_logger("ringfence.bus.memory")


@dataclass
class _Item:
    data: bytes
    deliveries: int = 0


class InProcessBus:
    def __init__(self, *, batch_size: int = 500, max_deliver: int = 5, maxsize: int = 0) -> None:
        self.batch_size = batch_size
        self.max_deliver = max_deliver
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize)
        self.delivered = 0
        self.redelivered = 0
        self.dropped = 0

    async def publish(self, events: Sequence[Event]) -> None:
        for batch in chunks(events, self.batch_size):
            await self._queue.put(_Item(encode_batch(batch)))

    def pending(self) -> int:
        return self._queue.qsize()

    async def drain(self) -> None:
        """Wait until every published batch was handled (acked or dropped)."""
        await self._queue.join()

    async def run_worker(self, handler: Handler, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                item = await asyncio.wait_for(self._queue.get(), timeout=0.2)
            except TimeoutError:
                continue
            item.deliveries += 1
            try:
                events = decode_batch(item.data)
                await asyncio.to_thread(handler, events)
            except Exception as exc:  # the handler's failure must not kill the worker
                if item.deliveries < self.max_deliver and not isinstance(exc, ValueError):
                    self.redelivered += 1
                    await self._queue.put(item)
                else:
                    self.dropped += 1
                    _log.error("bus batch dropped", error=repr(exc), deliveries=item.deliveries)
            else:
                self.delivered += 1
            finally:
                self._queue.task_done()

    async def close(self) -> None:
        return None
