"""The upstream pool and a misbehaving upstream: no caller ever gets another's answer.

Found by the session-11 HTTP desync review: a 1xx (103 Early Hints) was taken as the final
answer and the connection pooled, so the real 200 became the next caller's response; a second
response in the same read was merged into the first (status, headers) and the connection kept;
bytes arriving while a pooled connection was idle were kept for the next request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from ringfence.gateway.upstream import UpstreamError, UpstreamPool

EARLY_HINTS = b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
INJECTED = (
    b"HTTP/1.1 302 Found\r\nLocation: https://evil.example/\r\n"
    b"Set-Cookie: s=attacker\r\nContent-Length: 0\r\n\r\n"
)


def ok(body: bytes, *, chunked: bool = False) -> bytes:
    if chunked:
        return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (
            len(body),
            body,
        )
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


Handler = Callable[[bytes, asyncio.StreamWriter], Awaitable[None]]


async def _serve(answer: Handler) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                await answer(head.split(b" ")[1].lstrip(b"/"), writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _get(pool: UpstreamPool, port: int, who: bytes) -> tuple[int, bytes]:
    response = await pool.request(
        "http",
        "127.0.0.1",
        port,
        b"GET /" + who + b" HTTP/1.1\r\nhost: upstream\r\n\r\n",
        b"",
        cap=1 << 20,
        deadline_s=5,
    )
    return response.status, response.body


@pytest.mark.parametrize("interim", [EARLY_HINTS, CONTINUE, EARLY_HINTS + CONTINUE])
@pytest.mark.parametrize("same_read", [True, False])
async def test_an_interim_response_is_not_the_answer(interim: bytes, same_read: bool) -> None:
    async def answer(who: bytes, writer: asyncio.StreamWriter) -> None:
        if same_read:
            writer.write(interim + ok(b"for-" + who))
        else:
            writer.write(interim)
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.write(ok(b"for-" + who))
        await writer.drain()

    server, port = await _serve(answer)
    pool = UpstreamPool()
    try:
        assert await _get(pool, port, b"alice") == (200, b"for-alice")
        assert await _get(pool, port, b"bob") == (200, b"for-bob")
    finally:
        await pool.aclose()
        server.close()


async def test_switching_protocols_is_a_protocol_error() -> None:
    async def answer(who: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n" + ok(who))
        await writer.drain()

    server, port = await _serve(answer)
    pool = UpstreamPool()
    try:
        with pytest.raises(UpstreamError, match="protocol"):
            await _get(pool, port, b"alice")
    finally:
        await pool.aclose()
        server.close()


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_second_response_in_the_same_read_fails_the_exchange(chunked: bool) -> None:
    async def answer(who: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(ok(b"for-" + who, chunked=chunked) + (INJECTED if who == b"alice" else b""))
        await writer.drain()

    server, port = await _serve(answer)
    pool = UpstreamPool()
    try:
        with pytest.raises(UpstreamError, match="protocol"):
            await _get(pool, port, b"alice")  # never the injected 302, never 'for-alice'+302
        assert await _get(pool, port, b"bob") == (200, b"for-bob")  # on a fresh connection
    finally:
        await pool.aclose()
        server.close()


@pytest.mark.parametrize("chunked", [False, True])
async def test_bytes_while_a_pooled_connection_is_idle_drop_it(chunked: bool) -> None:
    async def answer(who: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(ok(b"for-" + who, chunked=chunked))
        await writer.drain()
        if who == b"alice":
            await asyncio.sleep(0.05)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nfor-mallory")
            await writer.drain()

    server, port = await _serve(answer)
    pool = UpstreamPool()
    try:
        assert await _get(pool, port, b"alice") == (200, b"for-alice")
        await asyncio.sleep(0.2)  # the stray bytes reach the idle pooled connection
        assert await _get(pool, port, b"bob") == (200, b"for-bob")
    finally:
        await pool.aclose()
        server.close()
