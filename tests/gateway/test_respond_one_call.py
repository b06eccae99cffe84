"""``_Cycle.respond``: a whole response in one call writes what the two ASGI messages write.

The gateway's forwarded answers leave through ``respond`` under its own HTTP protocol (one call
instead of ``http.response.start`` + ``http.response.body`` and their awaits). It must write
the very bytes ``send`` writes and leave the cycle and the connection in the same state; and
for anything but the common case (HEAD, a closing connection, back-pressure, a response
already started, a length that does not match, a head the native builder declines) it must
do nothing at all and say so, so ``send`` decides — and refuses — as before.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ringfence.gateway import httpproto
from ringfence.gateway.httpproto import _Cycle

needs_native_head = pytest.mark.skipif(
    httpproto._response_head is None, reason="the _fastpath extension is not built"
)

DEFAULTS = [(b"server", b"ringfence"), (b"date", b"Fri, 27 Nov 2026 17:00:00 GMT")]


class _Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


class _Proto:
    def __init__(self) -> None:
        self.transport = _Transport()
        self.default_headers = list(DEFAULTS)
        self.write_paused: asyncio.Future[None] | None = None
        self.completed = 0

    def on_response_complete(self) -> None:
        self.completed += 1


def _cycle(method: str = "POST", keep_alive: bool = True) -> tuple[_Cycle, _Proto]:
    proto = _Proto()
    cycle = _Cycle(proto, {"method": method}, keep_alive, False)  # type: ignore[arg-type]
    return cycle, proto


def _state(cycle: _Cycle, proto: _Proto) -> tuple[Any, ...]:
    return (
        b"".join(proto.transport.written),
        proto.transport.closed,
        proto.completed,
        cycle.response_started,
        cycle.response_complete,
        cycle.remaining,
        cycle.head,
    )


async def _by_send(
    status: int, headers: list[tuple[bytes, bytes]], body: bytes, **kw: Any
) -> tuple[Any, ...]:
    cycle, proto = _cycle(**kw)
    await cycle.send({"type": "http.response.start", "status": status, "headers": headers})
    await cycle.send({"type": "http.response.body", "body": body})
    return _state(cycle, proto)


def _headers(body: bytes, *extra: tuple[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"application/json"),
        *extra,
        (b"content-length", b"%d" % len(body)),
        (b"x-request-id", b"0192f1d2-0000-7000-8000-000000000000"),
    ]


@needs_native_head
@pytest.mark.parametrize("status", [200, 201, 204, 400, 404, 429, 502, 503])
@pytest.mark.parametrize("body", [b"", b"{}", b'{"items":[1,2,3]}', b"x" * 70_000])
def test_the_same_bytes_and_state_as_the_two_messages(status: int, body: bytes) -> None:
    if status == 204 and body:
        pytest.skip("a 204 has no body")
    headers = _headers(body, (b"ratelimit-remaining", b"41"))
    cycle, proto = _cycle()
    assert cycle.respond(status, headers, body) is True
    assert _state(cycle, proto) == asyncio.run(_by_send(status, headers, body))
    assert proto.completed == 1


@needs_native_head
@pytest.mark.parametrize(
    ("why", "kw", "headers", "body"),
    [
        ("HEAD: no body goes out", {"method": "HEAD"}, _headers(b"{}"), b"{}"),
        ("a closing connection", {"keep_alive": False}, _headers(b"{}"), b"{}"),
        ("body shorter than its length", {}, _headers(b"{}!"), b"{}"),
        ("body longer than its length", {}, _headers(b""), b"{}"),
        ("no content-length", {}, [(b"content-type", b"text/plain")], b"abc"),
        ("connection header", {}, _headers(b"{}", (b"connection", b"close")), b"{}"),
        ("transfer-encoding", {}, _headers(b"{}", (b"transfer-encoding", b"chunked")), b"{}"),
        ("a line break in a value", {}, _headers(b"{}", (b"x-a", b"a\r\nb: c")), b"{}"),
        ("a bad header name", {}, _headers(b"{}", (b"x a", b"1")), b"{}"),
        ("two lengths", {}, _headers(b"{}", (b"content-length", b"2")), b"{}"),
    ],
)
def test_anything_uncommon_is_left_to_send(
    why: str, kw: dict[str, Any], headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    cycle, proto = _cycle(**kw)
    before = _state(cycle, proto)
    assert cycle.respond(200, headers, body) is False, why
    assert _state(cycle, proto) == before, why
    # and send then answers (or refuses) exactly as it does for a cycle respond never touched
    fresh = _cycle(**kw)[0]

    async def both() -> tuple[Any, Any]:
        outcomes = []
        for c in (cycle, fresh):
            try:
                await c.send({"type": "http.response.start", "status": 200, "headers": headers})
                await c.send({"type": "http.response.body", "body": body})
                outcomes.append(("ok", b"".join(c.proto.transport.written)))  # type: ignore[attr-defined]
            except RuntimeError as exc:
                outcomes.append(("refused", str(exc)))
        return outcomes[0], outcomes[1]

    mine, theirs = asyncio.run(both())
    assert mine == theirs, why


@needs_native_head
def test_not_after_a_started_response_nor_under_back_pressure_nor_once_disconnected() -> None:
    body = b"{}"

    async def started() -> None:
        cycle, proto = _cycle()
        await cycle.send({"type": "http.response.start", "status": 200, "headers": _headers(body)})
        assert cycle.respond(200, _headers(body), body) is False
        assert proto.transport.written == []  # the head still waits for its body

    asyncio.run(started())

    async def paused() -> None:
        cycle, proto = _cycle()
        proto.write_paused = asyncio.get_running_loop().create_future()
        assert cycle.respond(200, _headers(body), body) is False
        assert proto.transport.written == [] and not cycle.response_started

    asyncio.run(paused())

    cycle, proto = _cycle()
    cycle.disconnected = True
    assert cycle.respond(200, _headers(body), body) is False
    assert proto.transport.written == [] and proto.completed == 0
