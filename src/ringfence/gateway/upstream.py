"""A lean keep-alive HTTP/1.1 client for forwarding to upstreams (the gateway's hot path).

Why not httpx here: per request it costs milliseconds on this path (several small socket writes
that meet Nagle/delayed-ACK, async-library sniffing, layered abstractions). This client writes
each request in one ``write`` on a ``TCP_NODELAY`` socket, parses responses with ``httptools``
(the C parser uvicorn uses) — or, for a whole response in its plainest form, in one call of
the gateway's own extension (``_fastpath.parse_response``, which declines anything else to
httptools) — pools idle connections per origin, verifies TLS with the system
trust store, never follows redirects, and aborts a response as soon as it exceeds its size cap.
It never logs headers (they carry the brokered credential).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections import deque
from dataclasses import dataclass, field
from typing import Any, cast

import httptools

_parse_response: Any
try:
    from ringfence.gateway._fastpath import parse_response as _parse_response
except ImportError:  # optional extension: every response goes through httptools
    _parse_response = None


class UpstreamError(Exception):
    """Could not get a complete response (``kind``: connect, protocol, closed)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class UpstreamTooLarge(Exception):
    """The response exceeded the route's cap; the connection was dropped."""


@dataclass(slots=True)
class UpstreamResponse:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


@dataclass(eq=False)
class _Conn(asyncio.Protocol):
    key: tuple[str, str, int]
    transport: asyncio.Transport | None = None
    # httptools' parser of the current response, made only when the native one declines it
    parser: httptools.HttpResponseParser | None = None
    status: int = 0
    waiter: asyncio.Future[None] | None = None
    closed: bool = False
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    cap: int = 0
    got_bytes: bool = False
    headers_done: bool = False
    complete: bool = False
    too_large: bool = False
    head_request: bool = False
    keep_alive: bool = False
    # A 1xx (100 Continue, 103 Early Hints) is not the answer: its headers are dropped and
    # the final response is read on the same parser.
    interim: bool = False
    # Bytes past the answer (a second response in the same read, or anything while no
    # request waits): the upstream and we no longer agree where a response ends.
    desync: bool = False
    # The connection's event loop, kept: asyncio.get_running_loop() is a getpid() system
    # call per use on Python 3.11, and a request used it three times.
    loop: asyncio.AbstractEventLoop | None = None
    # The response's deadline and the connection's one timer (see ``watch``).
    deadline: float = 0.0
    timer: asyncio.TimerHandle | None = None
    timer_at: float = 0.0

    # -- protocol callbacks ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing asyncio.Transport.
        self.transport = cast(asyncio.Transport, transport)
        self.loop = asyncio.get_running_loop()
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        waiter = self.waiter
        if waiter is None or waiter.done():
            # Nothing was asked, or it was answered already — whichever parser read the
            # answer: a byte now belongs to no request, and taking it as the start of the next
            # response on this pooled connection would hand one caller another's answer.
            self.desync = True
            self._fail("protocol")
            return
        parser = self.parser
        if parser is None:
            # The usual response — whole, in one read, in the plainest form — parsed in one
            # native call; anything else goes to httptools (a parser made per response, as
            # before), which decides.
            if _parse_response is not None and not self.head_request:
                parsed = _parse_response(data, self.cap)
                if parsed is not None:
                    self.status, self.headers, body, self.keep_alive = parsed
                    if body:
                        self.chunks.append(body)
                        self.size = len(body)
                    self.headers_done = self.complete = True
                    waiter.set_result(None)
                    return
            parser = self.parser = httptools.HttpResponseParser(self)
        try:
            parser.feed_data(data)
        except (httptools.HttpParserUpgrade, httptools.HttpParserError):
            self.desync = True
            self._fail("protocol")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.waiter is not None and not self.waiter.done():
            # A body delimited by connection close (no length, not chunked) ends here.
            if (
                self.headers_done
                and not self.complete
                and self.parser is not None
                and self.parser.get_status_code()
                and not self._has_length()
            ):
                self.complete = True
                self.waiter.set_result(None)
                return
            self.waiter.set_exception(UpstreamError("closed"))

    # -- httptools callbacks ---------------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self.complete:  # a second response after the answer, in the same read
            self.desync = True
            self.keep_alive = False
            raise UpstreamError("protocol")  # httptools: HttpParserCallbackError

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code() if self.parser is not None else 0
        if 100 <= status < 200:
            if status == 101:  # we never ask to switch protocols
                raise UpstreamError("protocol")
            self.interim = True
            self.headers = []
            return
        self.headers_done = True
        self.status = status
        if self.head_request:  # a HEAD response has no body whatever its headers say
            self.complete = True
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(None)

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > self.cap:
            self.too_large = True
            if self.transport is not None:
                self.transport.abort()
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_exception(UpstreamTooLarge())
            return
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        if self.interim:  # the final response follows on the same parser
            self.interim = False
            return
        self.complete = True
        # Only valid inside the parser callbacks: llhttp resets its state afterwards.
        self.keep_alive = self.parser is not None and self.parser.should_keep_alive()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    # -- the response's deadline -----------------------------------------------------------------
    # A uvloop timer costs about 5 µs to create and cancel (a libuv timer allocated, started,
    # stopped and closed): one per request was 1-2 % of a gateway request's CPU. A kept-alive
    # connection serves one request at a time, mostly with the same timeout, so it keeps one
    # timer: armed at the deadline (or earlier), it fails the waiting response when its
    # deadline has passed (TimeoutError) and otherwise re-arms for it. A response that
    # arrives first leaves the timer alone.
    def watch(self, deadline: float) -> None:
        """The current request's response fails with TimeoutError at ``deadline``."""
        self.deadline = deadline
        timer = self.timer
        if timer is not None and self.timer_at <= deadline:
            return
        if timer is not None:
            timer.cancel()
        assert self.loop is not None
        self.timer = self.loop.call_at(deadline, self._expire_due)
        self.timer_at = deadline

    def _expire_due(self) -> None:
        self.timer = None
        waiter = self.waiter
        if waiter is None or waiter.done() or self.loop is None:
            return
        if self.loop.time() + _TIMER_SLACK >= self.deadline:
            waiter.set_exception(TimeoutError())
        else:
            self.timer = self.loop.call_at(self.deadline, self._expire_due)
            self.timer_at = self.deadline

    # -- helpers ---------------------------------------------------------------------------------
    def _has_length(self) -> bool:
        return any(k.lower() in (b"content-length", b"transfer-encoding") for k, _ in self.headers)

    def _fail(self, kind: str) -> None:
        if self.transport is not None:
            self.transport.abort()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(UpstreamError(kind))

    def reset(self, cap: int, head_request: bool = False) -> None:
        self.head_request = head_request
        self.keep_alive = False
        self.parser = None  # made by data_received when the native parse declines
        self.status = 0
        assert self.loop is not None
        self.waiter = self.loop.create_future()
        self.headers = []
        self.chunks = []
        self.size = 0
        self.cap = cap
        self.got_bytes = False
        self.headers_done = False
        self.complete = False
        self.too_large = False
        self.interim = False
        self.desync = False


# uvloop's timers have millisecond resolution and may run up to a millisecond before the
# time asked for: a deadline that close counts as passed (as the per-request timer did).
_TIMER_SLACK = 0.001


class UpstreamPool:
    """Keep-alive connections per (scheme, host, port)."""

    def __init__(self, *, max_idle_per_origin: int = 256, verify: bool = True) -> None:
        self._idle: dict[tuple[str, str, int], deque[_Conn]] = {}
        self._max_idle = max_idle_per_origin
        self._ssl = ssl.create_default_context() if verify else None

    async def _connect(self, key: tuple[str, str, int]) -> _Conn:
        scheme, host, port = key
        loop = asyncio.get_running_loop()
        ctx = self._ssl if scheme == "https" else None
        if scheme == "https" and ctx is None:
            ctx = ssl.create_default_context()
        try:
            _, proto = await loop.create_connection(
                lambda: _Conn(key), host, port, ssl=ctx, server_hostname=host if ctx else None
            )
        except (OSError, ssl.SSLError):
            raise UpstreamError("connect") from None
        return proto

    def _take(self, key: tuple[str, str, int]) -> _Conn | None:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if not conn.closed and conn.transport is not None and not conn.transport.is_closing():
                return conn
        return None

    def _give_back(self, conn: _Conn) -> None:
        idle = self._idle.get(conn.key)
        if idle is None:  # (setdefault would build a deque per request to throw away)
            idle = self._idle[conn.key] = deque()
        if len(idle) < self._max_idle:
            idle.append(conn)
        elif conn.transport is not None:
            conn.transport.close()

    async def request(
        self,
        scheme: str,
        host: str,
        port: int,
        head: bytes,
        body: bytes,
        *,
        cap: int,
        deadline_s: float,
    ) -> UpstreamResponse:
        """Send ``head`` (request line + headers + CRLF CRLF) and ``body``; read the response
        within ``deadline_s`` seconds (TimeoutError when it passes). One coroutine: every
        forwarded request awaits it."""
        key = (scheme, host, port)
        is_head = head.startswith(b"HEAD ")
        conn = self._take(key)
        loop = conn.loop if conn is not None and conn.loop is not None else None
        if loop is None:
            loop = asyncio.get_running_loop()
        deadline = loop.time() + deadline_s
        reused = conn is not None
        for attempt in (0, 1):
            if conn is None:
                async with asyncio.timeout_at(deadline):
                    conn = await self._connect(key)
            try:
                conn.reset(cap, is_head)
                assert conn.transport is not None and conn.waiter is not None
                # At the deadline the wait ends in TimeoutError (the connection's timer).
                conn.watch(deadline)
                if len(body) < 65536:
                    conn.transport.write(head + body)
                else:
                    conn.transport.write(head)
                    conn.transport.write(body)
                await conn.waiter
                if conn.desync:  # the answer came with bytes past it: trust neither
                    raise UpstreamError("protocol")
                break
            except UpstreamError:
                # A pooled connection the upstream had already closed: retry once on a fresh
                # one, but only if the upstream sent nothing back at all.
                if attempt == 0 and reused and not conn.got_bytes:
                    conn = None
                    reused = False
                    continue
                raise
            except BaseException:
                if conn is not None and conn.transport is not None:
                    conn.transport.abort()
                raise
        assert conn is not None
        response = UpstreamResponse(conn.status, conn.headers, b"".join(conn.chunks))
        keep = not is_head and conn.keep_alive and conn.complete and not conn.closed
        if keep:
            self._give_back(conn)
        elif conn.transport is not None:
            conn.transport.close()
        return response

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                if conn.transport is not None:
                    conn.transport.close()
        self._idle.clear()
