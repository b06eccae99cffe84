"""A real uvicorn on loopback, counting the body bytes the application read of each request,
and a raw HTTP/1.1 client that pushes a body while watching for an early answer.

TestClient hands the whole body to the app in one message before any answer can come back,
so it cannot show *when* a server answers; these helpers can: the server's count says how
many bytes of a request's body reached the application (the body guard and the routes) before
it answered, keyed by the client's port.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ReadCounter:
    """ASGI wrapper: body bytes the wrapped application received, per client port."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.read: dict[int, int] = defaultdict(int)
        self.peak_in_flight = 0
        self._in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        port = int(scope["client"][1])
        taken = 0

        async def counted() -> Message:
            nonlocal taken
            message = await receive()
            if message["type"] == "http.request":
                n = len(message.get("body", b""))
                self.read[port] += n
                taken += n
                self._in_flight += n
                self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            return message

        try:
            await self.app(scope, counted, send)
        finally:
            self._in_flight -= taken


@dataclass
class Served:
    port: int
    counter: ReadCounter


@contextmanager
def serve(app: ASGIApp, http: str = "auto") -> Iterator[Served]:
    """``app`` behind uvicorn (as ``ringfence serve`` runs it) on a free loopback port;
    ``http``: uvicorn's HTTP implementation (auto = httptools when installed, else h11)."""
    counter = ReadCounter(app)
    config = uvicorn.Config(
        counter, host="127.0.0.1", port=0, log_level="warning", lifespan="off", http=http
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Served(port, counter)
    finally:
        server.should_exit = True
        thread.join(20)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    sent: int  # body bytes the client had written (into its socket) when the answer came
    client_port: int
    extra: dict[str, Any] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


async def push(
    port: int,
    path: str,
    *,
    size: int,
    headers: dict[str, str] | None = None,
    chunked: bool = False,
    declared: int | None = None,
    block: int = 64 * 1024,
    answer_within: float = 60.0,
) -> Answer:
    """POST ``size`` bytes to ``path``, stopping as soon as the server answers.

    With ``chunked`` the body goes without a Content-Length; otherwise it declares ``declared``
    (default ``size``)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    client_port = int(writer.get_extra_info("sockname")[1])
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {declared or size}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    sent = 0

    async def body() -> None:
        nonlocal sent
        data = b"%PDF" + b"x" * (block - 4)
        with suppress(ConnectionError):
            while sent < size:
                piece = data[: min(block, size - sent)]
                writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
                await writer.drain()
                sent += len(piece)
            if chunked:
                writer.write(b"0\r\n\r\n")
                await writer.drain()

    pusher = asyncio.create_task(body())
    try:
        status_line = await asyncio.wait_for(reader.readline(), answer_within)
        got: dict[str, str] = {}
        end = (b"\r\n", b"")
        while (line := await asyncio.wait_for(reader.readline(), answer_within)) not in end:
            name, _, value = line.decode("latin-1").partition(":")
            got[name.strip().lower()] = value.strip()
        answered_at = sent
        length = int(got.get("content-length", "0"))
        content = await asyncio.wait_for(reader.readexactly(length), answer_within)
    finally:
        pusher.cancel()
        with suppress(asyncio.CancelledError, ConnectionError):
            await pusher
        writer.close()
        with suppress(ConnectionError):
            await writer.wait_closed()
    return Answer(int(status_line.split()[1]), got, content, answered_at, client_port)
