"""Audit events of the gateway: one per request, handed to a sink without blocking the response.

An ``AuditEvent`` carries metadata only: who (integration, client id, IP, user agent), what
(route, method, path *template*), the outcome (status, decision, reason), cost (latency, bytes)
and a DLP summary (data type ids and counts, never a value). It must never hold a token, a
secret, a header value other than the user agent, or a request/response body.

Fields (``AuditEvent.to_dict``): ``time`` (RFC 3339 UTC), ``request_id``, ``integration``
(name or null), ``integration_id``, ``client_id``, ``auth`` (jwt | api_key | none),
``route``, ``method``, ``path_template`` (the matched operation, or the gateway endpoint),
``path`` (only when nothing matched: the probed path, at most 200 characters), ``upstream``
(host only), ``status``, ``decision`` (allow | deny | error), ``reason`` (stable code such as
``insufficient_scope``), ``latency_ms``, ``bytes_in``, ``bytes_out``, ``dlp`` ({"request":
{"types": {type: count}, ...}, "response": {...}}), ``client_ip``, ``user_agent``, plus OCSF
``class_uid`` 4002 (HTTP Activity) and ``category_uid`` 4 so the monitor can map it.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

import orjson

from ringfence.core.logging import get_logger

_log = get_logger("ringfence.gateway.audit")


# Not ``slots=True``: orjson serialises a plain dataclass from its ``__dict__`` in a third of
# the time it takes to read slots one by one (1.6 against 4.9 µs for a request's event), and
# builds it faster too; every request writes one.
@dataclass
class AuditEvent:
    time: str
    request_id: str
    method: str
    status: int
    decision: str
    reason: str
    latency_ms: float
    client_ip: str | None = None
    user_agent: str | None = None
    integration: str | None = None
    integration_id: str | None = None
    client_id: str | None = None
    auth: str = "none"
    route: str | None = None
    path_template: str | None = None
    path: str | None = None
    upstream: str | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    dlp: dict[str, Any] = field(default_factory=dict)
    class_uid: int = 4002
    category_uid: int = 4

    def to_dict(self) -> dict[str, Any]:
        # dataclasses.asdict deep-copies recursively (tens of µs); the fields are flat apart
        # from ``dlp``, which nothing mutates after the event is built.
        return {name: getattr(self, name) for name in _FIELDS}


_FIELDS = tuple(f.name for f in fields(AuditEvent))


class AuditSink(Protocol):
    """Receives one event per request. ``emit`` must not block or raise."""

    def emit(self, event: AuditEvent) -> None: ...

    async def aclose(self) -> None: ...


class MemoryAuditSink:
    """Keeps the last ``maxlen`` events in memory (tests, the embedded console)."""

    def __init__(self, maxlen: int = 100_000) -> None:
        self.events: deque[AuditEvent] = deque(maxlen=maxlen)

    def emit(self, event: AuditEvent) -> None:
        self.events.append(event)

    async def aclose(self) -> None:
        return None


class JsonlAuditSink:
    """Appends one JSON line per event to a file; writes are batched off the event loop."""

    def __init__(self, path: Path, *, flush_every: float = 0.2) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._buf: list[bytes] = []
        self._flush_every = flush_every
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> bool:
        return bool(self._buf)

    def emit(self, event: AuditEvent) -> None:
        self._buf.append(orjson.dumps(event) + b"\n")  # orjson serialises dataclasses natively
        if self._task is None:
            try:
                self._task = asyncio.get_running_loop().create_task(self._loop())
            except RuntimeError:
                self.flush()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._flush_every)
            if self._buf:
                await asyncio.to_thread(self.flush)

    def flush(self) -> None:
        buf, self._buf = self._buf, []
        if not buf:
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, b"".join(buf))
        finally:
            os.close(fd)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.flush()


class CallableAuditSink:
    """Hands events to an async callable (e.g. the event bus publisher) from a bounded queue.

    Events are published in concurrent batches. If the callable fails, the event is spooled to
    ``spool`` (JSONL) when one is configured so nothing is lost; ``replay_spool`` hands spooled
    events to the callable again, and runs by itself every ``replay_every`` seconds once
    publishing works again.
    """

    def __init__(
        self,
        publish: Callable[[dict[str, Any]], Awaitable[None]],
        *,
        spool: Path | None = None,
        max_queue: int = 100_000,
        batch: int = 100,
        replay_every: float = 30.0,
    ) -> None:
        self._publish = publish
        self._batch = batch
        self._replay_every = replay_every
        self._busy = False
        self._spool = JsonlAuditSink(spool) if spool is not None else None
        self._queue: asyncio.Queue[AuditEvent] = asyncio.Queue(max_queue)
        self._task: asyncio.Task[None] | None = None

    def emit(self, event: AuditEvent) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self._to_spool(event)

    def _to_spool(self, event: AuditEvent) -> None:
        if self._spool is not None:
            self._spool.emit(event)
        else:
            _log.warning("audit_event_dropped", request_id=event.request_id)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last_replay = loop.time()
        while True:
            batch = [await self._queue.get()]
            self._busy = True
            while len(batch) < self._batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            # Publish a batch concurrently (one event per call, as the publisher expects).
            results = await asyncio.gather(
                *(self._publish(e.to_dict()) for e in batch), return_exceptions=True
            )
            failed = [e for e, r in zip(batch, results, strict=True) if isinstance(r, Exception)]
            for event in failed:  # the bus is down: spool, never lose
                self._to_spool(event)
            if failed:
                _log.warning("audit_publish_failed", events=len(failed))
            elif self._spool is not None and loop.time() - last_replay > self._replay_every:
                last_replay = loop.time()
                if self._spool.path.exists() or self._spool.pending:
                    await self.replay_spool()
            self._busy = False

    async def drain(self, max_wait: float = 5.0) -> None:
        """Wait (bounded) until queued events were handed to the publisher."""
        deadline = asyncio.get_running_loop().time() + max_wait
        loop = asyncio.get_running_loop()
        while self._pending() and loop.time() < deadline:  # noqa: ASYNC110 - two conditions
            await asyncio.sleep(0.005)

    def _pending(self) -> bool:
        return not self._queue.empty() or self._busy

    async def replay_spool(self) -> int:
        """Publish spooled events again; keeps the ones that still fail. Returns the count sent."""
        if self._spool is None:
            return 0
        self._spool.flush()
        path = self._spool.path
        if not path.exists():
            return 0
        lines = path.read_bytes().splitlines()
        path.unlink()
        sent = 0
        for line in lines:
            data = orjson.loads(line)
            try:
                await self._publish(data)
                sent += 1
            except Exception:
                self._spool.emit(AuditEvent(**data))
        self._spool.flush()
        return sent

    async def aclose(self) -> None:
        await self.drain()
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._spool is not None:
            await self._spool.aclose()
