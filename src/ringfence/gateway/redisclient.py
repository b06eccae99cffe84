"""A lean pipelined Redis client for the gateway's rate-limit hot path (RESP2, one connection).

The gateway needs one thing from Redis per request: an atomic ``INCRBY`` + first-hit
``EXPIRE`` + ``TTL`` of a fixed-window counter. redis-py and ``limits`` spend ~60 µs of Python
per call in their connection-pool and command layers; this client writes one ``EVALSHA`` per
hit on a single shared connection (commands from concurrent requests are pipelined, and those
issued in the same event-loop step go out in one socket write; Redis answers in order, so
replies are matched to a FIFO of futures) and parses the reply itself.

It must never hide a failure: a refused / lost connection, a timeout or an error reply raises
``RedisUnavailable`` for every pending call, so the gateway answers 503 (fail closed), and the
next call reconnects. It never logs keys or values.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import deque
from typing import Any, cast
from urllib.parse import unquote, urlsplit

from ringfence.gateway.cork import CorkedTransport

# Same semantics as ``limits``' incr_expire.lua (window starts at the first hit), plus the TTL
# in the same round trip so ``RateLimit-Reset`` is exact without a second call.
INCR_EXPIRE_TTL = b"""local amount = tonumber(ARGV[2])
local current = redis.call('incrby', KEYS[1], amount)
if tonumber(current) == amount then
    redis.call('expire', KEYS[1], ARGV[1])
end
return {current, redis.call('ttl', KEYS[1])}
"""
# SHA-1 is what Redis names scripts by (EVALSHA); not a security use.
_SHA = hashlib.sha1(INCR_EXPIRE_TTL, usedforsecurity=False).hexdigest().encode()


class RedisUnavailable(Exception):
    """Redis could not answer (connection, timeout, protocol or error reply)."""


class RedisErrorReply(RedisUnavailable):
    pass


def _command(*parts: bytes) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for p in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(p), p))
    return b"".join(out)


# One or more whole replies of the limiter's script (``*2 :count :ttl``), as Redis writes
# them: parsed with two searches instead of the general parser's per-element Python work.
_HIT = re.compile(rb"\*2\r\n:(-?[0-9]{1,18})\r\n:(-?[0-9]{1,18})\r\n")
_HITS = re.compile(rb"(?:\*2\r\n:-?[0-9]{1,18}\r\n:-?[0-9]{1,18}\r\n)+")


class _Parser:
    """Incremental RESP2 parser; ``feed`` returns the complete replies found."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        if not self._buf:
            # the hot path's replies, and nothing else: [count, ttl] pairs, whole — one (the
            # usual read at moderate load) matched once, several by a search for each
            one = _HIT.fullmatch(data)
            if one is not None:
                return [[int(one[1]), int(one[2])]]
            if _HITS.fullmatch(data) is not None:
                return [[int(c), int(t)] for c, t in _HIT.findall(data)]
        self._buf += data
        out: list[Any] = []
        pos = 0
        buf = self._buf
        while True:
            res = self._parse(buf, pos)
            if res is None:
                break
            value, pos = res
            out.append(value)
        if pos:
            del buf[:pos]
        return out

    def _parse(self, buf: bytearray, pos: int) -> tuple[Any, int] | None:
        end = buf.find(b"\r\n", pos)
        if end == -1:
            return None
        kind = buf[pos]
        line = bytes(buf[pos + 1 : end])
        nxt = end + 2
        if kind == 0x3A:  # ':'
            return int(line), nxt
        if kind == 0x2B:  # '+'
            return line, nxt
        if kind == 0x2D:  # '-'
            return RedisErrorReply(line.decode("utf-8", "replace")[:200]), nxt
        if kind == 0x24:  # '$'
            n = int(line)
            if n < 0:
                return (None, nxt)  # nil
            if len(buf) < nxt + n + 2:
                return None
            return bytes(buf[nxt : nxt + n]), nxt + n + 2
        if kind == 0x2A:  # '*'
            n = int(line)
            items: list[Any] = []
            for _ in range(max(0, n)):
                res = self._parse(buf, nxt)
                if res is None:
                    return None
                item, nxt = res
                items.append(item)
            return items, nxt
        raise RedisUnavailable("unexpected reply from Redis")


class _Protocol(asyncio.Protocol):
    def __init__(self, client: LeanRedis) -> None:
        self.client = client
        self.parser = _Parser()
        self.transport: asyncio.Transport | None = None
        # each sent command's reply future and its deadline, in the order replies come
        self.pending: deque[tuple[asyncio.Future[Any], float]] = deque()
        self.closed = False
        # Kept: asyncio.get_running_loop() costs a getpid() system call per use on 3.11.
        self.loop = asyncio.get_running_loop()
        # One timer for all the pending replies' deadlines (see ``watch``).
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The commands of all requests that reach the limiter in one loop step leave in one
        # write (one system call instead of one per request); order is kept, so replies still
        # match the FIFO of futures. uvloop's transport is not an asyncio.Transport subclass.
        corked = CorkedTransport(cast(asyncio.Transport, transport), self.loop)
        self.transport = cast(asyncio.Transport, corked)

    def data_received(self, data: bytes) -> None:
        try:
            replies = self.parser.feed(data)
        except Exception:
            self._fail(RedisUnavailable("unparsable reply from Redis"))
            if self.transport is not None:
                self.transport.abort()
            return
        pending = self.pending
        for reply in replies:
            if not pending:  # a reply nobody asked for: the stream is out of sync
                self._fail(RedisUnavailable("unexpected reply from Redis"))
                if self.transport is not None:
                    self.transport.abort()
                return
            fut, _ = pending.popleft()
            if not fut.done():  # a caller that timed out leaves a cancelled future
                fut.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RedisUnavailable("connection to Redis lost"))

    def _fail(self, err: Exception) -> None:
        self.closed = True
        self.client._forget(self)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        while self.pending:
            fut, _ = self.pending.popleft()
            if not fut.done():
                fut.set_exception(err)

    # A uvloop timer costs about 5 µs to create and cancel (a libuv timer allocated, started,
    # stopped and closed): one per command was 2-3 % of a gateway request's CPU. Replies come
    # in the order commands were sent and every command has the same timeout, so the oldest
    # pending reply always has the earliest deadline: one timer, armed at that deadline,
    # fails every reply whose deadline has passed (TimeoutError) and re-arms for the next.
    # A reply that arrives first leaves the timer alone; it finds nothing due and re-arms.
    def watch(self, fut: asyncio.Future[Any], deadline: float) -> None:
        """``fut`` (just appended to the FIFO) fails with TimeoutError at ``deadline``."""
        self.pending.append((fut, deadline))
        if self.timer is None:
            self.timer = self.loop.call_at(deadline, self._expire_due)

    def _expire_due(self) -> None:
        self.timer = None
        now = self.loop.time() + _TIMER_SLACK
        for fut, deadline in self.pending:
            if deadline > now:
                self.timer = self.loop.call_at(deadline, self._expire_due)
                return
            if not fut.done():
                fut.set_exception(TimeoutError())


class PendingReply:
    """A command already sent; its reply is awaited later (``LeanRedis.send_now``)."""

    __slots__ = ("fut",)

    def __init__(self, fut: asyncio.Future[Any]) -> None:
        self.fut = fut

    async def result(self) -> Any:
        try:
            return await self.fut
        except TimeoutError:
            raise RedisUnavailable("Redis did not answer in time") from None

    def discard(self) -> None:
        discard_reply(self.fut)


def discard_reply(fut: asyncio.Future[Any]) -> None:
    """Give up a sent command's reply: read and dropped when it comes (``send_future``)."""
    if fut.done():
        if not fut.cancelled():
            fut.exception()  # retrieved: no "never retrieved" warning
    else:
        fut.cancel()  # a late reply finds it done and is skipped


def _incr_args(key: str, expiry: int, amount: int) -> tuple[bytes, ...]:
    return (b"1", key.encode(), str(expiry).encode(), str(amount).encode())


# uvloop's timers have millisecond resolution and may run up to a millisecond before the
# time asked for: a deadline that close counts as passed (as the per-command timer did).
_TIMER_SLACK = 0.001


class LeanRedis:
    """One pipelined connection to ``redis://[user:password@]host[:port][/db]``."""

    def __init__(self, url: str, *, timeout: float = 0.5) -> None:
        parts = urlsplit(url)
        if parts.scheme != "redis":
            raise ValueError("LeanRedis supports redis:// URLs only")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 6379
        self.password = unquote(parts.password) if parts.password else None
        self.username = unquote(parts.username) if parts.username else None
        path = (parts.path or "/").strip("/")
        self.db = int(path) if path else 0
        self.timeout = timeout
        self._proto: _Protocol | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None
        self._sha_loaded = False
        self._encoded: dict[tuple[str, int, int], bytes] = {}

    @staticmethod
    def supports(url: str) -> bool:
        try:
            parts = urlsplit(url)
            path = (parts.path or "/").strip("/")
            return parts.scheme == "redis" and (not path or path.isdigit()) and not parts.query
        except ValueError:
            return False

    def _forget(self, proto: _Protocol) -> None:
        if self._proto is proto:
            self._proto = None

    async def _connection(self) -> _Protocol:
        proto = self._proto
        if proto is not None and not proto.closed:
            return proto
        if self._connecting is not None:
            return await asyncio.shield(self._connecting)
        loop = asyncio.get_running_loop()
        self._connecting = loop.create_future()
        try:
            _, proto = await loop.create_connection(lambda: _Protocol(self), self.host, self.port)
            hello: list[bytes] = []
            if self.password is not None:
                auth = [b"AUTH"]
                if self.username:
                    auth.append(self.username.encode())
                auth.append(self.password.encode())
                hello.append(_command(*auth))
            if self.db:
                hello.append(_command(b"SELECT", str(self.db).encode()))
            for cmd in hello:
                reply = await self._send(proto, cmd, self.timeout)
                if isinstance(reply, Exception):
                    raise reply
            self._proto = proto
            self._sha_loaded = False
            self._connecting.set_result(proto)
            return proto
        except BaseException as exc:
            err = exc if isinstance(exc, RedisUnavailable) else RedisUnavailable(type(exc).__name__)
            self._connecting.set_exception(err)
            self._connecting.exception()  # retrieved: no "never retrieved" warning
            raise err from None
        finally:
            self._connecting = None

    @staticmethod
    def _send(proto: _Protocol, cmd: bytes, timeout: float) -> asyncio.Future[Any]:
        if proto.closed or proto.transport is None:
            raise RedisUnavailable("connection to Redis lost")
        fut: asyncio.Future[Any] = proto.loop.create_future()
        proto.watch(fut, proto.loop.time() + timeout)
        proto.transport.write(cmd)
        return fut

    def send_now(self, cmd: bytes) -> PendingReply | None:
        """Send ``cmd`` now on the open connection and return its pending reply (``None``
        when there is no open connection: use ``call``, which connects).

        The caller does other work and then awaits ``PendingReply.result``; or, if it gives up,
        calls ``PendingReply.discard`` (the reply is then read and dropped, as for a cancelled
        caller).
        """
        fut = self.send_future(cmd)
        return PendingReply(fut) if fut is not None else None

    def send_future(self, cmd: bytes) -> asyncio.Future[Any] | None:
        """``send_now`` answering the reply's future itself (the rate limiter's hot path: one
        object fewer a request); a TimeoutError it ends with means Redis did not answer in
        time; give it up with ``discard_reply``."""
        proto = self._proto
        if proto is None or proto.closed or proto.transport is None:
            return None
        loop = proto.loop
        fut: asyncio.Future[Any] = loop.create_future()
        proto.watch(fut, loop.time() + self.timeout)
        transport = proto.transport
        if isinstance(transport, CorkedTransport):
            transport.write_now(cmd)
        else:
            transport.write(cmd)
        return fut

    async def call(self, cmd: bytes) -> Any:
        """Send one encoded command; the reply (an error reply is returned, not raised)."""
        proto = self._proto
        if proto is None or proto.closed:
            return await self._call_connecting(cmd)
        # The common case, on the hot path: connected. The connection's one deadline timer
        # (``_Protocol.watch``) fails the reply's future when it is late; a late reply finds
        # the future done and is skipped, as for a cancelled caller.
        fut = self._send(proto, cmd, self.timeout)
        try:
            return await fut
        except TimeoutError:
            raise RedisUnavailable("Redis did not answer in time") from None

    async def _call_connecting(self, cmd: bytes) -> Any:
        try:
            async with asyncio.timeout(self.timeout):
                proto = await self._connection()
                return await self._send(proto, cmd, self.timeout)
        except TimeoutError:
            raise RedisUnavailable("Redis did not answer in time") from None
        except OSError as exc:
            raise RedisUnavailable(type(exc).__name__) from None

    def evalsha(self, key: str, expiry: int, amount: int = 1) -> bytes:
        """The encoded ``incr_expire_ttl`` command of ``key`` (for ``send_now``)."""
        return self._evalsha(key, expiry, amount)

    def _evalsha(self, key: str, expiry: int, amount: int) -> bytes:
        # The same few (route, integration) keys come back on every request: encode once.
        # Bounded: a cache of more distinct keys than a policy can produce is simply reset.
        spec = (key, expiry, amount)
        cmd = self._encoded.get(spec)
        if cmd is None:
            if len(self._encoded) >= 4096:
                self._encoded.clear()
            cmd = _command(b"EVALSHA", _SHA, *_incr_args(key, expiry, amount))
            self._encoded[spec] = cmd
        return cmd

    async def incr_expire_ttl(self, key: str, expiry: int, amount: int = 1) -> tuple[int, int]:
        """Atomic fixed-window hit: (count after this hit, seconds until the window resets)."""
        reply = await self.call(self._evalsha(key, expiry, amount))
        return await self.incr_expire_ttl_reply(reply, key, expiry, amount)

    def begin_incr_expire_ttl(self, key: str, expiry: int, amount: int = 1) -> PendingReply | None:
        """``incr_expire_ttl`` sent now; finish with ``incr_expire_ttl_reply(await
        reply.result(), ...)``. ``None`` when not connected."""
        return self.send_now(self._evalsha(key, expiry, amount))

    async def incr_expire_ttl_reply(
        self, reply: Any, key: str, expiry: int, amount: int = 1
    ) -> tuple[int, int]:
        if isinstance(reply, RedisErrorReply) and str(reply).startswith("NOSCRIPT"):
            args = _incr_args(key, expiry, amount)
            reply = await self.call(_command(b"EVAL", INCR_EXPIRE_TTL, *args))
        return _counted(reply)

    @staticmethod
    def counted(reply: Any) -> tuple[int, int] | None:
        """``incr_expire_ttl_reply`` without a coroutine when the script was loaded (None:
        NOSCRIPT, call ``incr_expire_ttl_reply``)."""
        if isinstance(reply, RedisErrorReply) and str(reply).startswith("NOSCRIPT"):
            return None
        return _counted(reply)

    async def ping(self) -> bool:
        try:
            return bool(await self.call(_command(b"PING")) == b"PONG")
        except RedisUnavailable:
            return False

    async def aclose(self) -> None:
        proto = self._proto
        self._proto = None
        if proto is not None and proto.transport is not None:
            proto.transport.close()


def _counted(reply: Any) -> tuple[int, int]:
    if isinstance(reply, Exception):
        raise reply
    if not (isinstance(reply, list) and len(reply) == 2):
        raise RedisUnavailable("unexpected reply from Redis")
    count, ttl = reply
    if not isinstance(count, int) or not isinstance(ttl, int):
        raise RedisUnavailable("unexpected reply from Redis")
    return count, ttl
