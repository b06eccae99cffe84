"""The gateway's own HTTP/1.1 protocol (``gateway/httpproto.py``) against uvicorn's.

The lean protocol replaced uvicorn's ``HttpToolsProtocol`` for speed; it must answer the same
way. Each conversation below is sent on a raw socket to a uvicorn server running a probe app
with uvicorn's protocol and then with ours, and the bytes received must be identical: keep-alive,
pipelining, HTTP/1.0, chunked requests and responses, HEAD, 204, 100-continue, large bodies
(flow control), a slow client reading a large response (back-pressure), percent-encoded paths,
malformed requests, apps that fail before, during and after their response, bad header values
from the app, and the ASGI rule that ``receive`` after the body blocks until the disconnect.
The places where ours deliberately differs are tested on their own at the end.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ringfence.gateway.httpproto import GatewayHttpToolsProtocol
from tests.gateway.upstream import free_port

EVENTS: list[tuple[str, str]] = []  # (path, what the app saw) for tests that look inside


async def _read(receive: Any) -> bytes:
    body = b""
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            raise ConnectionResetError
        body += msg["body"]
        if not msg.get("more_body", False):
            return body


async def _answer(send: Any, status: int, body: bytes, headers: Any = None) -> None:
    hdrs = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": hdrs + (headers or [])})
    await send({"type": "http.response.body", "body": body})


async def probe(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path.startswith("/scope"):
        await _read(receive)
        seen = {
            k: scope[k] for k in ("type", "http_version", "method", "path", "root_path", "scheme")
        }
        seen["raw_path"] = scope["raw_path"].decode("latin-1")
        seen["query_string"] = scope["query_string"].decode("latin-1")
        seen["client"] = scope["client"][0]
        seen["server"] = scope["server"][0]
        seen["headers"] = [[k.decode(), v.decode("latin-1")] for k, v in scope["headers"]]
        seen["asgi"] = scope["asgi"]
        await _answer(send, 200, orjson.dumps(seen, option=orjson.OPT_SORT_KEYS))
    elif path == "/echo":
        body = await _read(receive)
        digest = hashlib.sha256(body).hexdigest()[:16]
        await _answer(send, 200, f"{scope['method']} {len(body)} {digest}".encode())
    elif path == "/parts":  # the body as the app received it, part by part
        sizes = []
        while True:
            msg = await receive()
            sizes.append(len(msg.get("body", b"")))
            if not msg.get("more_body", False):
                break
        await _answer(send, 200, f"{sum(sizes)} in {len(sizes) > 0}".encode())
    elif path == "/after-body":
        await _read(receive)
        try:
            msg = await asyncio.wait_for(receive(), 0.2)
            seen_after = msg["type"]
        except TimeoutError:
            seen_after = "blocked"
        await _answer(send, 200, seen_after.encode())
    elif path == "/chunked":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first,", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        await send({"type": "http.response.body", "body": b"second"})
    elif path == "/stream-cl":
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"Content-Length", b"7")]}
        )
        await send({"type": "http.response.body", "body": b"abc", "more_body": True})
        await send({"type": "http.response.body", "body": b"defg"})
    elif path == "/big":  # 8 MiB in 64 KiB parts: a slow reader pushes back
        part = bytes(range(256)) * 256
        n = 128
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(part) * n).encode())],
            }
        )
        for i in range(n):
            await send({"type": "http.response.body", "body": part, "more_body": i < n - 1})
    elif path == "/204":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/close":
        await _answer(send, 200, b"bye", [(b"Connection", b"Close")])
    elif path == "/slow":
        await asyncio.sleep(0.05)
        await _answer(send, 200, b"slow")
    elif path == "/boom":
        raise ValueError("the app failed before answering")
    elif path == "/boom-after":
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"9")]}
        )
        await send({"type": "http.response.body", "body": b"half", "more_body": True})
        raise ValueError("the app failed while answering")
    elif path == "/noresp":
        return
    elif path == "/short":
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"9")]}
        )
        await send({"type": "http.response.body", "body": b"short"})
    elif path == "/bad-value":
        await _answer(send, 200, b"x", [(b"x-injected", b"a\r\nset-cookie: evil=1")])
    elif path == "/bad-name":
        await _answer(send, 200, b"x", [(b"bad name", b"v")])
    elif path == "/twice":
        await _answer(send, 200, b"one")
        try:
            await send({"type": "http.response.body", "body": b"again"})
        except RuntimeError as exc:
            EVENTS.append((path, str(exc)))
    elif path == "/disconnect":
        try:
            await _read(receive)
            EVENTS.append((path, "body"))
        except ConnectionResetError:
            EVENTS.append((path, "http.disconnect"))
    else:
        await _answer(send, 404, b"no such probe")


@contextmanager
def running(protocol: type, **config: Any) -> Iterator[tuple[int, uvicorn.Server]]:
    port = free_port()
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "log_level": "critical",
        "lifespan": "off",
        "http": protocol,
        "ws": "none",
        "date_header": False,
        "server_header": False,
        "proxy_headers": False,
        "access_log": False,
    }
    settings.update(config)
    server = uvicorn.Server(uvicorn.Config(probe, **settings))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "the test server did not start"
    try:
        yield port, server
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def converse(port: int, data: bytes | list[bytes], pause: float = 0.0) -> bytes:
    """Send ``data`` (parts with ``pause`` between them), read until the server closes."""
    parts = [data] if isinstance(data, bytes) else data
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for part in parts:
            sock.sendall(part)
            if pause:
                time.sleep(pause)
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    return received


def get(path: str, extra: bytes = b"", version: bytes = b"1.1") -> bytes:
    return b"GET %b HTTP/%b\r\nhost: probe\r\n%b\r\n" % (path.encode(), version, extra)


def post(path: str, body: bytes, extra: bytes = b"") -> bytes:
    return b"POST %b HTTP/1.1\r\nhost: probe\r\ncontent-length: %d\r\n%b\r\n%b" % (
        path.encode(),
        len(body),
        extra,
        body,
    )


def chunked(path: str, parts: list[bytes]) -> bytes:
    out = b"POST %b HTTP/1.1\r\nhost: probe\r\ntransfer-encoding: chunked\r\n\r\n" % path.encode()
    for part in parts:
        out += b"%x\r\n%b\r\n" % (len(part), part)
    return out + b"0\r\n\r\n"


CLOSE = b"connection: close\r\n"
BIG = bytes(range(251)) * 1300  # 326,300 bytes: more than the 64 KiB read buffer

CONVERSATIONS: dict[str, bytes | list[bytes]] = {
    "pipelined mix": (
        get("/scope?a=1&b=%41", b"x-one: 1\r\nX-Two: Two\r\n")
        + post("/echo", b"hello")
        + chunked("/echo", [b"abc", b"defgh", b"i" * 100])
        + b"HEAD /echo HTTP/1.1\r\nhost: probe\r\n\r\n"
        + get("/chunked")
        + get("/stream-cl")
        + get("/204")
        + get("/slow")
        + get("/scope/after-slow")
        + get("/nothing-here")
        + get("/close")
        + get("/never-answered")
    ),
    "keep-alive, then close": [get("/scope"), post("/echo", b"x" * 1000), get("/scope", CLOSE)],
    "http/1.0": get("/scope", version=b"1.0"),
    "http/1.0 keep-alive asked": get("/scope", b"connection: keep-alive\r\n", b"1.0"),
    "percent-encoded path": get("/scope/a%20b%2Fc/%E2%82%AC?q=%2F%20", CLOSE),
    "large body in one write": post("/echo", BIG, CLOSE),
    "large body in pieces": [
        b"POST /parts HTTP/1.1\r\nhost: probe\r\ncontent-length: %d\r\n%b\r\n" % (len(BIG), CLOSE),
        BIG[:100_000],
        BIG[100_000:],
    ],
    "expect 100-continue": [
        b"POST /echo HTTP/1.1\r\nhost: probe\r\nexpect: 100-continue\r\ncontent-length: 4\r\n"
        + CLOSE
        + b"\r\n",
        b"body",
    ],
    "receive after the body": post("/after-body", b"x", CLOSE),
    "malformed request line": b"GARBAGE\r\n\r\n",
    "bad header line": b"GET / HTTP/1.1\r\nhost probe\r\n\r\n",
    "content-length and chunked": (
        b"POST /echo HTTP/1.1\r\nhost: probe\r\ncontent-length: 3\r\n"
        b"transfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    ),
    "bad content-length": b"POST /echo HTTP/1.1\r\nhost: probe\r\ncontent-length: 1x\r\n\r\n",
    "app fails before answering": get("/boom"),
    "app fails while answering": get("/boom-after"),
    "app never answers": get("/noresp"),
    "app body shorter than its content-length": get("/short"),
    "app sends a header value with a line break": get("/bad-value"),
    "app sends a bad header name": get("/bad-name"),
    "app sends after the end": get("/twice", CLOSE),
}


# uvicorn closes these without an answer (the response had started when the app failed)
UNANSWERED = {
    "app sends a header value with a line break",
    "app sends a bad header name",
}


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, int]]:
    with (
        running(HttpToolsProtocol) as (stock, _s1),
        running(GatewayHttpToolsProtocol) as (ours, _s2),
    ):
        yield {"stock": stock, "ours": ours}


@pytest.mark.parametrize("name", list(CONVERSATIONS))
def test_same_answer_as_uvicorn(servers: dict[str, int], name: str) -> None:
    data = CONVERSATIONS[name]
    pause = 0.05 if isinstance(data, list) else 0.0
    stock = converse(servers["stock"], data, pause)
    ours = converse(servers["ours"], data, pause)
    if name in UNANSWERED:
        assert stock == b""
    else:
        assert stock, "uvicorn's protocol answered nothing: the conversation tests nothing"
    assert ours == stock


def test_the_pipelined_answers_are_the_expected_ones(servers: dict[str, int]) -> None:
    """Not only equal to uvicorn's: right (order kept behind a slow request, HEAD bodiless)."""
    raw = converse(servers["ours"], CONVERSATIONS["pipelined mix"])
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) [A-Z]", raw)
    assert statuses == [b"200"] * 6 + [b"204", b"200", b"200", b"404", b"200"]
    assert b"POST 5 " in raw and b"POST 108 " in raw
    assert raw.index(b"slow") < raw.index(b"/scope/after-slow")
    assert b"first,second" not in raw and b"6\r\nfirst,\r\n6\r\nsecond\r\n0\r\n\r\n" in raw
    assert raw.endswith(b"bye") and b"never-answered" not in raw
    # HEAD: the app's Content-Length ("HEAD 0 <digest>"), no body
    head = raw.split(b"HTTP/1.1 ")[4]  # the HEAD answer
    assert b"content-length: 23\r\n" in head and head.endswith(b"\r\n\r\n")
    assert b"HEAD 0" not in raw


def test_a_slow_reader_gets_a_large_response_whole(servers: dict[str, int]) -> None:
    """8 MiB answered to a client that reads nothing for a while: back-pressure, no loss."""
    with socket.create_connection(("127.0.0.1", servers["ours"]), timeout=10) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        sock.sendall(get("/big", CLOSE))
        time.sleep(0.5)
        received = b""
        while chunk := sock.recv(1 << 20):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert b"content-length: 8388608" in head
    assert body == (bytes(range(256)) * 256) * 128


def test_a_client_gone_mid_body_is_a_disconnect_for_the_app(servers: dict[str, int]) -> None:
    EVENTS.clear()
    with socket.create_connection(("127.0.0.1", servers["ours"]), timeout=10) as sock:
        sock.sendall(b"POST /disconnect HTTP/1.1\r\nhost: p\r\ncontent-length: 100\r\n\r\nabc")
        time.sleep(0.1)
    deadline = time.monotonic() + 5
    while not EVENTS and time.monotonic() < deadline:
        time.sleep(0.02)
    assert EVENTS == [("/disconnect", "http.disconnect")]


def test_sending_after_the_end_is_an_error_for_the_app(servers: dict[str, int]) -> None:
    EVENTS.clear()
    converse(servers["ours"], get("/twice", CLOSE))
    assert EVENTS == [
        (
            "/twice",
            "Unexpected ASGI message 'http.response.body' sent, after response already completed.",
        )
    ]


def test_an_idle_keep_alive_connection_is_closed_after_the_timeout() -> None:
    with (
        running(GatewayHttpToolsProtocol, timeout_keep_alive=1) as (port, _server),
        socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
    ):
        # busy longer than the timeout: not closed while a response is on its way
        for _ in range(3):
            sock.sendall(get("/slow"))
            assert sock.recv(65536).endswith(b"slow")
            time.sleep(0.4)
        started = time.monotonic()
        assert sock.recv(65536) == b""  # closed by the server once idle for 1 s
        assert 0.5 < time.monotonic() - started < 3.0


def test_a_connection_that_never_sends_a_request_is_closed_after_the_timeout() -> None:
    """uvicorn would keep it open for ever; ours gives it the keep-alive timeout."""
    with (
        running(GatewayHttpToolsProtocol, timeout_keep_alive=1) as (port, _server),
        socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
    ):
        started = time.monotonic()
        assert sock.recv(65536) == b""
        assert time.monotonic() - started < 3.0


def test_an_upgrade_request_with_a_body_is_refused_not_left_waiting(
    servers: dict[str, int],
) -> None:
    """httptools stops reading at an upgrade; the body the app waits for would never come."""
    raw = converse(
        servers["ours"],
        b"POST /echo HTTP/1.1\r\nhost: p\r\nconnection: upgrade\r\nupgrade: h2c\r\n"
        b"content-length: 4\r\n\r\nbody",
    )
    assert raw.startswith(b"HTTP/1.1 400 ") and b"Unsupported upgrade" in raw


def test_an_upgrade_request_without_a_body_is_answered_then_closed(
    servers: dict[str, int],
) -> None:
    raw = converse(
        servers["ours"],
        b"GET /scope HTTP/1.1\r\nhost: p\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n"
        + get("/never-parsed"),
    )
    assert raw.startswith(b"HTTP/1.1 200 ") and raw.count(b"HTTP/1.1 ") == 1


def test_the_concurrency_limit_answers_503() -> None:
    with running(GatewayHttpToolsProtocol, limit_concurrency=1) as (port, _server):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as first:
            raw = converse(port, get("/scope", CLOSE))
            first.sendall(get("/scope", CLOSE))
        assert raw.startswith(b"HTTP/1.1 503 ")


def test_an_oversized_request_head_is_refused_431_without_buffering_it() -> None:
    """uvicorn buffers any amount of headers (19 MB in review); ours stops at 64 KiB."""
    from ringfence.gateway.httpproto import MAX_HEAD_BYTES

    with running(GatewayHttpToolsProtocol) as (port, _server):
        many = b"".join(b"x-h%d: %b\r\n" % (i, b"v" * 100) for i in range(MAX_HEAD_BYTES // 100))
        raw = converse(port, b"GET /scope HTTP/1.1\r\nhost: p\r\n" + many + b"\r\n")
        assert raw.startswith(b"HTTP/1.1 431 ") and raw.endswith(b"too large.")
        long_url = b"GET /scope?" + b"q" * (MAX_HEAD_BYTES + 10) + b" HTTP/1.1\r\nhost: p\r\n\r\n"
        assert converse(port, long_url).startswith(b"HTTP/1.1 431 ")
        # just under the cap: served
        fits = b"GET /scope?" + b"q" * (MAX_HEAD_BYTES - 200) + b" HTTP/1.1\r\nhost: p\r\n"
        assert converse(port, fits + CLOSE + b"\r\n").startswith(b"HTTP/1.1 200 ")


def test_a_body_that_stops_coming_is_cut_off_after_the_keep_alive_timeout() -> None:
    """The app waits for body bytes that never come: the connection is closed (the app sees
    a disconnect), also during a graceful shutdown, which would otherwise never finish."""
    EVENTS.clear()
    with (
        running(GatewayHttpToolsProtocol, timeout_keep_alive=1) as (port, _server),
        socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
    ):
        sock.sendall(b"POST /disconnect HTTP/1.1\r\nhost: p\r\ncontent-length: 5\r\n\r\nab")
        started = time.monotonic()
        assert sock.recv(65536) == b""  # closed by the server
        assert 0.5 < time.monotonic() - started < 3.5
    deadline = time.monotonic() + 5
    while not EVENTS and time.monotonic() < deadline:
        time.sleep(0.02)
    assert EVENTS == [("/disconnect", "http.disconnect")]


def test_a_slow_but_steady_body_is_not_cut_off() -> None:
    with (
        running(GatewayHttpToolsProtocol, timeout_keep_alive=1) as (port, _server),
        socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
    ):
        sock.sendall(b"POST /echo HTTP/1.1\r\nhost: p\r\ncontent-length: 4\r\n" + CLOSE + b"\r\n")
        for byte in b"abcd":
            time.sleep(0.6)  # each gap under the timeout, the whole body over it
            sock.sendall(bytes([byte]))
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")


def test_a_refusal_with_unread_input_is_not_lost_to_a_reset(servers: dict[str, int]) -> None:
    """A malformed request followed by more bytes: the 400 reaches the client whole."""
    raw = converse(servers["ours"], [b"GARBAGE\r\n\r\n" + b"x" * 100_000, b"y" * 100_000], 0.05)
    assert raw.startswith(b"HTTP/1.1 400 ") and raw.endswith(b"Invalid HTTP request received.")


def test_an_upgrade_with_a_body_behind_a_running_request_is_refused_after_its_answer(
    servers: dict[str, int],
) -> None:
    """Review: the 400 was written at once, ahead of (and instead of) the answer to the
    request in progress — which its app may already have acted on."""
    raw = converse(
        servers["ours"],
        get("/slow") + b"POST /echo HTTP/1.1\r\nhost: p\r\nconnection: upgrade\r\nupgrade: h2c\r\n"
        b"content-length: 4\r\n\r\nbody",
    )
    assert re.findall(rb"HTTP/1\.1 (\d{3}) ", raw) == [b"200", b"400"], raw
    assert raw.index(b"slow") < raw.index(b"Unsupported upgrade")


def test_pipelined_requests_queue_up_to_a_bound_then_the_next_is_refused() -> None:
    """Review: one read of 30k tiny GETs queued 7,530 requests (each a scope in memory)."""
    from ringfence.gateway.httpproto import MAX_PIPELINED

    with running(GatewayHttpToolsProtocol) as (port, _server):
        burst = get("/slow") + get("/scope") * (MAX_PIPELINED + 50)
        raw = converse(port, burst)
        # more sent while the queue drains: unread when the server closes, which must not
        # reset the connection (a reset drops the answers the client has not read yet)
        later = converse(port, [burst, get("/scope") * 3], 0.02)
    for answer in (raw, later):
        statuses = re.findall(rb"HTTP/1\.1 (\d{3}) [A-Z]", answer)
        assert statuses == [b"200"] * (MAX_PIPELINED + 1) + [b"400"], statuses[-3:]
        assert answer.endswith(b"Too many pipelined requests.")


@pytest.mark.parametrize(
    "pattern",
    [
        re.compile(b'[\x00-\x1f\x7f()<>@,;:\\[\\]={} \t\\\\"]'),  # header names
        re.compile(b"[\x00-\x08\x0a-\x1f\x7f]"),  # header values
        re.compile(rb"[\r\n\x00]"),  # values forwarded upstream
    ],
)
def test_the_byte_tables_answer_as_the_patterns_they_replace(pattern: re.Pattern[bytes]) -> None:
    from ringfence.gateway.asgi import byte_table, has_byte

    table = byte_table(pattern)
    for b in range(256):  # every byte alone, first, last and inside printable text
        for data in (
            bytes([b]),
            bytes([b]) + b"abc",
            b"abc" + bytes([b]),
            b"a" + bytes([b]) + b"z",
        ):
            assert has_byte(data, table) is (pattern.search(data) is not None), data
    assert has_byte(b"", table) is False
    assert has_byte(b"x" * 10_000 + b"\x00", table) is True


class _TwoDoors:
    """An ASGI app that also offers its "http" handler directly (as the gateway does)."""

    def __init__(self) -> None:
        self.doors: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.doors.append("__call__")
        await self.asgi_http(scope, receive, send, via_call=True)

    async def asgi_http(
        self, scope: dict[str, Any], receive: Any, send: Any, via_call: bool = False
    ) -> None:
        if not via_call:
            self.doors.append("asgi_http")
        await _read(receive)
        await _answer(send, 200, b"ok")


def test_an_app_with_an_http_handler_gets_its_requests_there() -> None:
    """The gateway's protocol hands a request to ``app.asgi_http`` when the app has one (one
    coroutine fewer than ``__call__``, which dispatches to it); uvicorn's calls ``__call__``.
    Both answer the same."""
    answers = {}
    for protocol in (HttpToolsProtocol, GatewayHttpToolsProtocol):
        app = _TwoDoors()
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=port,
                log_level="critical",
                lifespan="off",
                http=protocol,
                ws="none",
                date_header=False,
                server_header=False,
                proxy_headers=False,
                access_log=False,
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        try:
            request = b"POST /x HTTP/1.1\r\nhost: t\r\ncontent-length: 2\r\n\r\nhi"
            last = (
                b"POST /x HTTP/1.1\r\nhost: t\r\nconnection: close\r\ncontent-length: 2\r\n\r\nhi"
            )
            answers[protocol] = converse(port, [request, last], 0.05)
        finally:
            server.should_exit = True
            thread.join(10)
        expected = ["asgi_http"] * 2 if protocol is GatewayHttpToolsProtocol else ["__call__"] * 2
        assert app.doors == expected
    assert answers[HttpToolsProtocol] == answers[GatewayHttpToolsProtocol]
    assert answers[HttpToolsProtocol].count(b"HTTP/1.1 200") == 2
