"""In-process event bus (the embedded default): an asyncio queue shared by competing workers.

Same contract as NATS: a batch is removed for good only after the handler returned; a handler
error puts it back after a growing delay (``retry_delay``, doubling, at most
``max_retry_delay``: a store outage of a few seconds is ridden out), up to ``max_deliver``
attempts. A batch that still fails — or that is not a batch of events at all — is never
dropped silently: it is logged as an error, counted (``dead_lettered``) and handed to
``dead_letter`` (``Monitor.dead_letter_message`` stores it in ``monitor_dead_letters``, one
row per event). Only if that fails too is it lost, counted in ``dropped`` and logged as such.
Nothing survives a process restart — that is what the NATS bus is for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from ringfence.bus.base import DeadLetterSink, Handler, chunks, decode_items, encode_batch
from ringfence.core.logging import get_logger
from ringfence.monitor.events import Event

_log = get_logger("ringfence.bus.memory")


@dataclass
class _Item:
    data: bytes
    deliveries: int = 0


class InProcessBus:
    def __init__(
        self,
        *,
        batch_size: int = 500,
        max_deliver: int = 5,
        maxsize: int = 0,
        retry_delay: float = 0.05,
        max_retry_delay: float = 2.0,
        dead_letter: DeadLetterSink | None = None,
    ) -> None:
        self.batch_size = batch_size
        self.max_deliver = max_deliver
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.dead_letter = dead_letter
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize)
        self._retries: set[asyncio.Task[None]] = set()
        self.delivered = 0
        self.redelivered = 0
        self.dead_lettered = 0  # batches given up on and handed to ``dead_letter``
        self.dropped = 0  # batches lost: given up on and not dead-lettered

    async def publish(self, events: Sequence[Event]) -> None:
        for batch in chunks(events, self.batch_size):
            await self._queue.put(_Item(encode_batch(batch)))

    def pending(self) -> int:
        return self._queue.qsize() + len(self._retries)

    async def drain(self) -> None:
        """Wait until every published batch was handled (acked or dead-lettered)."""
        await self._queue.join()

    async def run_worker(self, handler: Handler, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                item = await asyncio.wait_for(self._queue.get(), timeout=0.2)
            except TimeoutError:
                continue
            item.deliveries += 1
            retrying = False
            try:
                try:
                    events, bad = decode_items(item.data)
                except ValueError as exc:  # never a batch: retrying cannot help
                    await self._give_up(item, str(exc))
                    continue
                if events:
                    await asyncio.to_thread(handler, events)
                for data, reason in bad:  # the message's other events are handled
                    await self._give_up(_Item(data, item.deliveries), reason)
            except Exception as exc:  # the handler's failure must not kill the worker
                if item.deliveries < self.max_deliver:
                    self.redelivered += 1
                    retrying = True
                    self._retry_later(item)
                else:
                    await self._give_up(item, f"handler failed: {exc!r}"[:500])
            else:
                self.delivered += 1
            finally:
                if not retrying:
                    self._queue.task_done()

    def _retry_later(self, item: _Item) -> None:
        """Put ``item`` back after its delay; it stays unfinished meanwhile (``drain`` waits)."""
        delay = min(self.max_retry_delay, self.retry_delay * 2 ** (item.deliveries - 1))

        async def later() -> None:
            await asyncio.sleep(delay)
            await self._queue.put(item)
            self._queue.task_done()  # the failed delivery's; the new one is counted by put

        task = asyncio.create_task(later())
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)

    async def _give_up(self, item: _Item, reason: str) -> None:
        _log.error("bus batch dead-lettered", error=reason, deliveries=item.deliveries)
        if self.dead_letter is None:
            self.dropped += 1
            _log.error("bus batch lost: no dead-letter store", deliveries=item.deliveries)
            return
        try:
            await asyncio.to_thread(self.dead_letter, item.data, reason)
        except Exception as exc:
            self.dropped += 1
            _log.error("bus batch lost: dead-lettering failed", error=repr(exc)[:500])
        else:
            self.dead_lettered += 1

    async def close(self) -> None:
        for task in list(self._retries):
            task.cancel()
        return None
