"""The gateway's HTTP front: its own protocol, one write per response, and the cork.

``CorkedTransport`` (used by the Redis client) may change only the number of socket writes,
never the bytes or their order. The gateway's protocol (``httpproto``) must answer a pipelined
conversation through the real gateway byte for byte like uvicorn's (request ids aside) with
each response in one write; ``test_http_protocol.py`` compares the two protocols on many more
conversations with a probe app.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ringfence.gateway.app import build_gateway
from ringfence.gateway.config import GatewayConfig
from ringfence.gateway.cork import CorkedTransport
from ringfence.gateway.httpproto import GatewayHttpToolsProtocol
from ringfence.runtime import Runtime
from tests.gateway.upstream import free_port


class _FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.events: list[str] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.events.append("write")

    def close(self) -> None:
        self.closing = True
        self.events.append("close")

    def abort(self) -> None:
        self.closing = True
        self.events.append("abort")

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1)}.get(name, default)


async def test_writes_of_one_loop_step_leave_as_one_write_in_order() -> None:
    inner = _FakeTransport()
    corked = CorkedTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
    corked.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    corked.write(b"")
    corked.write(bytearray(b"ok"))
    assert inner.writes == []
    assert corked.get_write_buffer_size() == 40
    await asyncio.sleep(0)
    assert inner.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"]
    corked.write(b"second")
    await asyncio.sleep(0)
    assert inner.writes[1:] == [b"second"]
    # delegation of everything else
    assert corked.get_extra_info("peername") == ("127.0.0.1", 1)


async def test_close_flushes_first_and_abort_discards() -> None:
    inner = _FakeTransport()
    corked = CorkedTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
    corked.write(b"head")
    corked.write(b"body")
    corked.close()
    assert inner.events == ["write", "close"] and inner.writes == [b"headbody"]
    await asyncio.sleep(0)  # the scheduled flush finds nothing left
    assert inner.writes == [b"headbody"]

    inner2 = _FakeTransport()
    corked2 = CorkedTransport(inner2, asyncio.get_running_loop())  # type: ignore[arg-type]
    corked2.write(b"never sent")
    corked2.abort()
    await asyncio.sleep(0)
    assert inner2.events == ["abort"] and inner2.writes == []


# -- through a real uvicorn server ----------------------------------------------------------

WRITES: list[bytes] = []


class _Recorder:
    """Between uvicorn and the socket transport: records what reaches the socket."""

    def __init__(self, inner: asyncio.Transport) -> None:
        self._inner = inner

    def write(self, data: bytes) -> None:
        WRITES.append(bytes(data))
        self._inner.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _RecordingGatewayProtocol(GatewayHttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_Recorder(transport))  # type: ignore[arg-type]


class _RecordingStockProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_Recorder(transport))  # type: ignore[arg-type]


@contextmanager
def _running(
    app: Any, protocol: type, lifespan: str = "on"
) -> Iterator[tuple[int, uvicorn.Server]]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="error",
            lifespan=lifespan,
            http=protocol,
            date_header=False,
            server_header=False,
            proxy_headers=False,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        threading.Event().wait(0.01)
    try:
        yield port, server
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def _serve(app: Any, protocol: type) -> Iterator[int]:
    with _running(app, protocol) as (port, _server):
        yield port


# Pipelined on one connection: a 200, a 404, a 401 problem, a HEAD and a POST with a body
# (both 404: no such endpoint) and a last request that asks to close the connection.
CONVERSATION = (
    b"GET /healthz HTTP/1.1\r\nhost: gw\r\n\r\n"
    b"GET /nope/x HTTP/1.1\r\nhost: gw\r\n\r\n"
    b"GET /crm/contacts HTTP/1.1\r\nhost: gw\r\n\r\n"
    b"HEAD /healthz HTTP/1.1\r\nhost: gw\r\n\r\n"
    b"POST /healthz HTTP/1.1\r\nhost: gw\r\ncontent-length: 4\r\n\r\nabcd"
    b"GET /readyz HTTP/1.1\r\nhost: gw\r\nconnection: close\r\n\r\n"
)
RESPONSES = 6


def _converse(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(CONVERSATION)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def _normalise(raw: bytes) -> bytes:
    """Request ids (UUIDs) differ run to run; everything else must be identical."""
    return re.sub(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", b"<id>", raw)


def test_gateway_protocol_answers_byte_for_byte_like_uvicorns_in_one_write_each(
    gw_runtime: Runtime,
) -> None:
    answers: dict[str, bytes] = {}
    writes: dict[str, list[bytes]] = {}
    for name, protocol in (
        ("stock", _RecordingStockProtocol),
        ("gateway", _RecordingGatewayProtocol),
    ):
        gateway = build_gateway(
            gw_runtime.store,
            gw_runtime.vault,
            clock=gw_runtime.clock,
            config=GatewayConfig(dlp_engine="builtin"),
        )
        WRITES.clear()
        with _serve(gateway, protocol) as port:
            answers[name] = _converse(port)
        writes[name] = list(WRITES)
    statuses = re.findall(rb"HTTP/1.1 (\d+)", answers["gateway"])
    assert statuses == [b"200", b"404", b"401", b"404", b"404", b"200"], answers["gateway"]
    assert _normalise(answers["gateway"]) == _normalise(answers["stock"])
    assert b"".join(writes["gateway"]) == answers["gateway"]
    # stock uvicorn: head and body in separate writes; the gateway's: at most one per response
    assert len(writes["stock"]) > RESPONSES
    assert len(writes["gateway"]) <= RESPONSES
    for w in writes["gateway"]:
        assert w.startswith(b"HTTP/1.1 ")


def test_expect_100_continue_is_answered_before_the_body_is_sent(gw_runtime: Runtime) -> None:
    """The interim answer is a write of its own loop step: it must leave without waiting."""
    gateway = build_gateway(
        gw_runtime.store,
        gw_runtime.vault,
        clock=gw_runtime.clock,
        config=GatewayConfig(dlp_engine="builtin"),
    )
    body = b"grant_type=client_credentials"
    with (
        _serve(gateway, GatewayHttpToolsProtocol) as port,
        socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
    ):
        sock.sendall(
            b"POST /oauth/token HTTP/1.1\r\nhost: gw\r\nexpect: 100-continue\r\n"
            b"content-type: application/x-www-form-urlencoded\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
        )
        interim = sock.recv(65536)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 401 ")  # no client credentials: refused, after the body


async def _hello(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


def _read_all(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_a_graceful_shutdown_answers_a_new_connections_first_request() -> None:
    """A connection accepted just before the shutdown (a worker replaced by a rolling restart,
    its last connection handed over a moment before) whose request is still on its way is
    answered, with ``connection: close``, instead of being closed unanswered; a keep-alive
    connection idle after its answer is closed as before, and a silent one after the grace."""
    import ringfence.gateway.httpproto as httpproto

    grace = httpproto.FIRST_REQUEST_GRACE
    httpproto.FIRST_REQUEST_GRACE = 1.0
    try:
        with _running(_hello, GatewayHttpToolsProtocol, lifespan="off") as (port, server):
            fresh, idle, silent = (
                socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3)
            )
            with fresh, idle, silent:
                idle.sendall(b"GET / HTTP/1.1\r\nhost: gw\r\n\r\n")
                assert idle.recv(65536).startswith(b"HTTP/1.1 200")
                threading.Event().wait(0.3)  # all three connections are attached
                server.should_exit = True
                threading.Event().wait(0.5)  # the shutdown has started
                assert _read_all(idle) == b""  # idle keep-alive: closed (the client may retry)
                fresh.sendall(b"GET / HTTP/1.1\r\nhost: gw\r\n\r\n")
                answer = _read_all(fresh)
                assert answer.startswith(b"HTTP/1.1 200")
                assert b"connection: close" in answer.lower() and answer.endswith(b"ok")
                assert _read_all(silent) == b""  # closed after the grace, unanswered
    finally:
        httpproto.FIRST_REQUEST_GRACE = grace
