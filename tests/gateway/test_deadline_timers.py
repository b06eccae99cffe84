"""One deadline timer per connection (Redis replies, upstream responses) instead of one per
request: every late answer still fails at its own deadline, and answers that come in time
leave nothing behind."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest

from ringfence.gateway.redisclient import LeanRedis, RedisUnavailable
from ringfence.gateway.upstream import UpstreamPool


async def test_each_pending_redis_reply_fails_at_its_own_deadline() -> None:
    async def answer_first_late(reader: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        w.write(b"+PONG\r\n")  # the ping
        await w.drain()
        await asyncio.sleep(2)  # then nothing
        w.close()

    server = await asyncio.start_server(answer_first_late, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = LeanRedis(f"redis://127.0.0.1:{port}/0", timeout=0.3)
    loop = asyncio.get_running_loop()
    try:
        assert await client.ping()
        sent: list[float] = []
        replies = []
        for _ in range(3):  # sent 0.1 s apart: three deadlines, one timer
            sent.append(loop.time())
            reply = client.send_now(b"*1\r\n$4\r\nPING\r\n")
            assert reply is not None
            replies.append(reply)
            await asyncio.sleep(0.1)
        for at, reply in zip(sent, replies, strict=True):
            with pytest.raises(RedisUnavailable, match="in time"):
                await reply.result()
            assert 0.25 < loop.time() - at < 0.45
        proto = client._proto
        assert proto is not None and proto.timer is None  # nothing pending is due later
    finally:
        await client.aclose()
        server.close()


async def test_redis_replies_in_time_leave_one_timer_at_most() -> None:
    async def echo(reader: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while data := await reader.read(1024):
            w.write(b"+PONG\r\n" * data.count(b"PING"))
            await w.drain()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = LeanRedis(f"redis://127.0.0.1:{port}/0", timeout=0.2)
    try:
        for _ in range(50):
            assert await client.ping()
        proto = client._proto
        assert proto is not None and not proto.pending
        await asyncio.sleep(0.3)  # the timer ran once, found nothing due, stayed unarmed
        assert proto.timer is None
    finally:
        await client.aclose()
        server.close()


async def test_an_upstream_answer_fails_at_its_deadline_on_a_reused_connection(
    upstream_url: str,
) -> None:
    parts = urlsplit(upstream_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    pool = UpstreamPool()
    loop = asyncio.get_running_loop()

    def head(path: str) -> bytes:
        return f"GET {path} HTTP/1.1\r\nhost: {host}\r\n\r\n".encode()

    try:
        # a long deadline first (its timer is armed 5 s out), then a short one on the same
        # connection: the timer is moved earlier
        ok = await pool.request(
            "http", host, port, head("/api/contacts"), b"", cap=10**6, deadline_s=5
        )
        assert ok.status == 200
        started = loop.time()
        with pytest.raises(TimeoutError):
            await pool.request(
                "http", host, port, head("/api/slow"), b"", cap=10**6, deadline_s=0.3
            )
        assert 0.25 < loop.time() - started < 0.6
        # a short deadline first, then a longer one: the early timer re-arms for it
        ok = await pool.request("http", host, port, head("/api/a"), b"", cap=10**6, deadline_s=0.2)
        assert ok.status == 200
        started = loop.time()
        with pytest.raises(TimeoutError):
            await pool.request(
                "http", host, port, head("/api/slow"), b"", cap=10**6, deadline_s=0.6
            )
        assert 0.55 < loop.time() - started < 0.9
    finally:
        await pool.aclose()
