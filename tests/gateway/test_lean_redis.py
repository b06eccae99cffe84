"""The lean pipelined Redis client of the rate limiter: RESP parsing, exact counts, fail closed."""

from __future__ import annotations

import asyncio
import socket

import pytest
import redis
from limits import parse

from ringfence.core.errors import UnavailableError
from ringfence.gateway.ratelimit import RateLimiter
from ringfence.gateway.redisclient import (
    _SHA,
    INCR_EXPIRE_TTL,
    LeanRedis,
    RedisErrorReply,
    RedisUnavailable,
    _command,
    _Parser,
)
from tests.services import REDIS_URL, redis_prefix, unavailable


def test_parser_handles_split_and_nested_replies() -> None:
    p = _Parser()
    assert p.feed(b"*2\r\n:4") == []
    assert p.feed(b"2\r\n:-1\r\n+PONG\r\n$3\r\nab") == [[42, -1], b"PONG"]
    assert p.feed(b"c\r\n$-1\r\n") == [b"abc", None]
    (err,) = p.feed(b"-NOSCRIPT No matching script\r\n")
    assert isinstance(err, RedisErrorReply) and str(err).startswith("NOSCRIPT")


def test_only_plain_redis_urls_use_the_lean_client() -> None:
    assert LeanRedis.supports("redis://127.0.0.1:6379/0")
    assert LeanRedis.supports("redis://:pw@host/3")
    assert not LeanRedis.supports("rediss://host/0")
    assert not LeanRedis.supports("unix:///tmp/redis.sock")


async def test_refused_connection_fails_closed() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        limiter = RateLimiter.redis(f"redis://127.0.0.1:{port}/0", "rf")
        with pytest.raises(UnavailableError) as info:
            await limiter.hit(parse("5/minute"), "r", "i")
        assert info.value.code == "ratelimit_unavailable"
        assert not await limiter.ping()


async def test_silent_server_times_out_into_unavailable() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = LeanRedis(f"redis://127.0.0.1:{port}/0", timeout=0.2)
    try:
        with pytest.raises(RedisUnavailable):
            await client.incr_expire_ttl("k", 60)
    finally:
        await client.aclose()
        server.close()


async def test_concurrent_hits_are_exact_and_share_limits_keys() -> None:
    try:
        plain = redis.Redis.from_url(REDIS_URL, socket_timeout=1)
        plain.ping()
    except redis.RedisError:
        unavailable("redis", "not reachable")
        return
    prefix = redis_prefix()
    limiter = RateLimiter.redis(REDIS_URL, prefix)
    try:
        item = parse("25/minute")
        results = await asyncio.gather(*[limiter.hit(item, "route", "integ") for _ in range(60)])
        assert sum(d.allowed for d in results) == 25
        assert all(0 < d.reset_seconds <= 60 for d in results)
        keys = plain.keys(prefix.rstrip(":") + ":*")
        assert keys == [(prefix.rstrip(":") + ":" + item.key_for("route", "integ")).encode()]
        assert await limiter.ping()
    finally:
        await limiter.aclose()
        for k in plain.scan_iter(match=prefix.rstrip(":") + "*"):
            plain.delete(k)


async def test_commands_of_one_loop_step_share_one_write_and_replies_stay_matched() -> None:
    try:
        plain = redis.Redis.from_url(REDIS_URL, socket_timeout=1)
        plain.ping()
    except redis.RedisError:
        unavailable("redis", "not reachable")
        return
    prefix = redis_prefix()
    client = LeanRedis(REDIS_URL)
    try:
        plain.script_load(INCR_EXPIRE_TTL)  # no NOSCRIPT fallback round in this test
        assert await client.ping()  # connected; the probe below sees only the hits
        proto = client._proto
        assert proto is not None and proto.transport is not None
        inner = proto.transport._inner  # type: ignore[attr-defined]
        writes: list[bytes] = []
        real_write = inner.write

        def recording_write(data: bytes) -> None:
            writes.append(bytes(data))
            real_write(data)

        proto.transport._inner = _Probe(inner, recording_write)  # type: ignore[attr-defined]
        # 30 hits on 3 keys issued in one step: one socket write, each reply to its caller
        keys = [f"{prefix}k{i % 3}" for i in range(30)]
        results = await asyncio.gather(*[client.incr_expire_ttl(k, 60) for k in keys])
        assert len(writes) == 1 and writes[0].count(b"EVALSHA") == 30
        for i in range(3):
            counts = [c for k, (c, _) in zip(keys, results, strict=True) if k.endswith(f"k{i}")]
            assert counts == list(range(1, 11))  # issue order = count order, per key
        assert all(0 < ttl <= 60 for _, ttl in results)
    finally:
        await client.aclose()
        for k in plain.scan_iter(match=prefix + "*"):
            plain.delete(k)


class _Probe:
    def __init__(self, inner: object, write: object) -> None:
        self._inner, self.write = inner, write

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


async def test_connected_server_that_goes_silent_times_out_into_unavailable() -> None:
    async def answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        writer.write(b"+PONG\r\n")  # the first command is answered, then nothing
        await writer.drain()
        await asyncio.sleep(1)  # silent past the client's 0.2 s
        writer.close()

    server = await asyncio.start_server(answer_once, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = LeanRedis(f"redis://127.0.0.1:{port}/0", timeout=0.2)
    try:
        assert await client.ping()  # connected: the next call takes the connected path
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(RedisUnavailable, match="in time"):
            await client.incr_expire_ttl("k", 60)
        assert 0.15 < loop.time() - started < 1.0
    finally:
        await client.aclose()
        server.close()


def test_encoded_hit_commands_are_cached_and_identical() -> None:
    client = LeanRedis("redis://127.0.0.1:6379/0")
    first = client._evalsha("rf:LIMITER/r/i/5/1/minute", 60, 1)
    assert first == _command(b"EVALSHA", _SHA, b"1", b"rf:LIMITER/r/i/5/1/minute", b"60", b"1")
    assert client._evalsha("rf:LIMITER/r/i/5/1/minute", 60, 1) is first  # reused
    assert client._evalsha("rf:LIMITER/r/i/5/1/minute", 3600, 1) != first
    for n in range(5000):  # more distinct keys than any policy: the cache stays bounded
        client._evalsha(f"k{n}", 60, 1)
    assert len(client._encoded) <= 4096


async def test_a_begun_hit_leaves_at_once_and_a_discarded_one_leaves_the_line_in_step() -> None:
    try:
        plain = redis.Redis.from_url(REDIS_URL, socket_timeout=1)
        plain.ping()
        plain.script_load(INCR_EXPIRE_TTL)
    except redis.RedisError:
        unavailable("redis", "not reachable")
        return
    prefix = redis_prefix()
    limiter = RateLimiter.redis(REDIS_URL, prefix)
    item = parse("2/minute")
    try:
        assert await limiter.ping()  # connected: begin() takes the send-now path
        lean = limiter._lean
        assert lean is not None and lean._proto is not None
        corked = lean._proto.transport
        writes: list[bytes] = []
        inner = corked._inner  # type: ignore[attr-defined]
        real_write = inner.write

        def recording_write(data: bytes) -> None:
            writes.append(bytes(data))
            real_write(data)

        corked._inner = _Probe(inner, recording_write)  # type: ignore[attr-defined]
        first = limiter.begin(item, "r", "i")
        assert len(writes) == 1 and b"EVALSHA" in writes[0]  # sent before any await
        second = limiter.begin(item, "r", "i")  # same step: waits for the step's end
        assert len(writes) == 1
        second.discard()  # abandoned (client went away): its reply is read and dropped
        decision = await first.decision()
        assert decision.allowed and decision.remaining == 1
        assert len(writes) == 2  # the second command still went out, in order
        # The discarded hit counted (as a request that reached the limiter does), and the
        # replies that follow are matched to the right callers.
        third = await limiter.begin(item, "r", "i").decision()
        assert not third.allowed and third.remaining == 0
        again = await limiter.hit(item, "r", "i")
        assert not again.allowed
    finally:
        await limiter.aclose()
        for k in plain.scan_iter(match=prefix.rstrip(":") + "*"):
            plain.delete(k)


async def test_begin_without_a_connection_hits_on_decision_and_fails_closed() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        limiter = RateLimiter.redis(f"redis://127.0.0.1:{port}/0", "rf")
        pending = limiter.begin(parse("5/minute"), "r", "i")  # not connected: nothing sent
        with pytest.raises(UnavailableError) as info:
            await pending.decision()
        assert info.value.code == "ratelimit_unavailable"
        pending.discard()  # harmless after the decision
