"""The gateway's HTTP/1.1 server protocol: httptools parsing, a lean ASGI request cycle.

uvicorn's ``HttpToolsProtocol`` costs about 117k instructions per request on top of a bare
asyncio protocol doing the same parsing (``bench/gateway_callgrind.py``: ≈ 8 % of a
full-pipeline request, ≈ 22 % of a pass-through): an ``asyncio.Event`` and a done-callback
handle per request, two regular-expression searches per response header, a keep-alive timer
created and cancelled per request, a second socket write per response. This protocol keeps
uvicorn's behaviour — it plugs into ``uvicorn.Server`` the same way (``--http`` class, the
server's connection and task sets, default headers, graceful shutdown) and answers byte for
byte like it (``tests/gateway/test_http_front.py`` compares the two on the same
conversations) — with less work per request:

- a whole request that arrives in one read, in its plainest form (``_fastpath.parse_request``:
  known method, origin-form target, HTTP/1.1, one Content-Length or none and exactly that
  body, no Transfer-Encoding / Expect / Upgrade), is parsed in one native call instead of
  httptools' nine callbacks; anything else is httptools' to parse, as before
  (``tests/gateway/test_native_http.py`` compares the two on hostile and generated requests);
- the ASGI app starts on a complete set of headers; ``receive`` returns the buffered body
  without a wait when it is all there (the usual case) and waits on a bare future otherwise;
- a response's head is held until its first body part and both leave in one socket write
  (the earlier ``CorkedTransport`` wrapper did the same with a scheduled flush per response);
- the header names and values an app sends are checked with one search each over all of
  them, not two per header;
- one keep-alive timer per connection re-arms itself while the connection is busy, instead of
  one timer per request;
- the task leaves the server's task set when it finishes, without a done-callback.

What it keeps from uvicorn: keep-alive and its timeout (``--timeout-keep-alive``), HTTP/1.0
(closed after the response), pipelined requests answered in order (reading paused while a
request waits its turn), ``Expect: 100-continue`` answered on the app's first ``receive``,
request bodies buffered up to 64 KiB before reading pauses (flow control), write back-pressure
(``pause_writing``), ``HEAD`` answered without a body, chunked responses when no
Content-Length is given, 400 and a close on a malformed request, 500 when the app fails before
answering, ``--limit-concurrency`` (503). WebSocket upgrades are not served (the gateway runs
with ``--ws none``): a request whose ``Upgrade`` stops the parser with its body unread is
answered 400 instead of being left waiting. Beyond uvicorn: a request line and headers over
``MAX_HEAD_BYTES`` are answered 431 as soon as they pass it, and a connection idle for the
keep-alive timeout is closed also before its first request and while its app waits for body
bytes that do not come.

At a graceful shutdown (SIGTERM, or a worker replaced by a rolling restart) a connection with
no request yet — accepted a moment ago, its first request still on its way — is given
``FIRST_REQUEST_GRACE`` seconds to send it and is answered with ``connection: close``: closing
it unanswered would leave that client with no reason to retry (unlike a keep-alive connection
closed while idle). Access logging is not done here (the gateway writes an audit event per
request instead and runs with ``--no-access-log``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import urllib.parse
from collections import deque
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT, service_unavailable
from uvicorn.protocols.http.httptools_impl import STATUS_LINE
from uvicorn.server import ServerState

from ringfence.gateway.asgi import byte_table, has_byte

_response_head: Any
_parse_request: Any
try:
    from ringfence.gateway._fastpath import parse_request as _parse_request
    from ringfence.gateway._fastpath import response_head as _response_head
except ImportError:  # optional extension: the heads are built and parsed in Python
    _response_head = None
    _parse_request = None

FIRST_REQUEST_GRACE = 5.0  # at shutdown: how long a fresh connection may take to send its request
MAX_HEAD_BYTES = 65536  # request line + headers; more is answered 431 (uvicorn sets no limit)
MAX_PIPELINED = 64  # requests queued behind the one in progress; the next is refused (400)
LINGER = 2.0  # after a refusal: how long what the client still sends is read and dropped

# Not allowed in a header name (RFC 9110 token) / value (control characters but HTAB).
_BAD_NAME = re.compile(b'[\x00-\x1f\x7f()<>@,;:\\[\\]={} \t\\\\"]')
_BAD_VALUE = re.compile(b"[\x00-\x08\x0a-\x1f\x7f]")
_BAD_NAME_T = byte_table(_BAD_NAME)
_BAD_VALUE_T = byte_table(_BAD_VALUE)
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_log = logging.getLogger("uvicorn.error")


class _Stop(Exception):
    """Raised in a parser callback to stop parsing: the request head exceeds MAX_HEAD_BYTES,
    or MAX_PIPELINED requests already wait (``data_received`` tells which)."""


def _release(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


class _Cycle:
    """One request and its response: the ASGI ``receive`` / ``send`` pair."""

    __slots__ = (
        "app",
        "body",
        "body_done",
        "chunked",
        "disconnected",
        "head",
        "head_request",
        "keep_alive",
        "more_body",
        "proto",
        "remaining",
        "response_complete",
        "response_started",
        "scope",
        "task",
        "waiter",
        "waiting_for_continue",
    )

    def __init__(
        self, proto: GatewayHttpToolsProtocol, scope: dict[str, Any], keep_alive: bool, cont: bool
    ) -> None:
        self.proto = proto
        self.scope = scope
        self.keep_alive = keep_alive
        self.waiting_for_continue = cont
        self.head_request = scope["method"] == "HEAD"
        self.app: Any = None  # a pipelined request's app, until it starts
        self.body: bytes | bytearray = b""
        self.body_done = False  # the last part of the body was handed to the app
        self.more_body = True
        self.disconnected = False
        self.response_started = False
        self.response_complete = False
        self.chunked: bool | None = None
        self.remaining = 0
        self.head = b""
        self.waiter: asyncio.Future[None] | None = None
        self.task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        _release(waiter)

    async def run(self, app: Any) -> None:
        try:
            result = await app(self.scope, self.receive, self.send)
        except BaseException as exc:
            _log.error("Exception in ASGI application\n", exc_info=exc)
            if not self.response_started:
                await self._send_500()
            else:
                self.proto.transport.close()
        else:
            if result is not None:
                _log.error("ASGI callable should return None, but returned '%s'.", result)
                self.proto.transport.close()
            elif not self.response_started and not self.disconnected:
                _log.error("ASGI callable returned without starting response.")
                await self._send_500()
            elif not self.response_complete and not self.disconnected:
                _log.error("ASGI callable returned without completing response.")
                self.proto.transport.close()
        finally:
            self.proto.tasks.discard(self.task)
            self.task = None

    async def _send_500(self) -> None:
        await self.send(
            {
                "type": "http.response.start",
                "status": 500,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", b"21"),
                    (b"connection", b"close"),
                ],
            }
        )
        await self.send({"type": "http.response.body", "body": b"Internal Server Error"})

    async def receive(self) -> dict[str, Any]:
        proto = self.proto
        if self.waiting_for_continue and not proto.transport.is_closing():
            proto.transport.write(_CONTINUE)
            self.waiting_for_continue = False
        if (
            not self.disconnected
            and not self.response_complete
            and (self.body_done or (self.more_body and not self.body))
        ):
            # nothing to hand over yet (or nothing more ever: wait for the disconnect)
            proto.resume_reading()
            waiter = self.waiter = proto.loop.create_future()
            await waiter
        if self.disconnected or self.response_complete:
            return {"type": "http.disconnect"}
        body = self.body
        self.body = b""
        more_body = self.more_body
        if more_body:
            if proto.reading_paused:
                proto.resume_reading()
        else:
            self.body_done = True
        return {
            "type": "http.request",
            "body": body if type(body) is bytes else bytes(body),
            "more_body": more_body,
        }

    def whole_body(self) -> bytes | None:
        """The request's body as ``receive`` would hand it over, without the await: when it is
        all here and nothing else is owed (the usual, natively parsed request). It is then
        handed over (a later ``receive`` waits for the disconnect, as after ``receive``).
        None: nothing was done; use ``receive``."""
        if (
            self.more_body
            or self.body_done
            or self.disconnected
            or self.response_complete
            or self.waiting_for_continue
        ):
            return None
        body = self.body
        self.body = b""
        self.body_done = True
        return body if type(body) is bytes else bytes(body)

    def respond(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> bool:
        """A whole response — head and body, one write — sent in one call without the two
        ASGI ``send`` messages and their awaits, for an app that has it all at once (the
        gateway's forwarded answers). Only in the common case: a keep-alive request that is not
        HEAD, nothing written yet, no back-pressure, and a head the native builder makes with a
        Content-Length equal to ``len(body)``. False: nothing was done; ``send`` the response
        as usual (it decides, and raises, as before)."""
        proto = self.proto
        if (
            _response_head is None
            or self.response_started
            or self.disconnected
            or proto.write_paused is not None
            or not self.keep_alive
            or self.head_request
            or self.chunked is not None
        ):
            return False
        built = _response_head(STATUS_LINE[status], proto.default_headers, headers)
        if built is None or built[1] != len(body):
            return False
        self.response_started = True
        self.waiting_for_continue = False
        self.chunked = False
        self.remaining = 0
        proto.transport.write(built[0] + body)
        self.response_complete = True
        self.wake()
        proto.on_response_complete()
        return True

    async def send(self, message: dict[str, Any]) -> None:
        proto = self.proto
        if proto.write_paused is not None and not self.disconnected:
            await proto.write_paused
        if self.disconnected:
            return
        if not self.response_started:
            if message["type"] != "http.response.start":
                raise RuntimeError(
                    f"Expected ASGI message 'http.response.start', but got '{message['type']}'."
                )
            self.response_started = True
            self.waiting_for_continue = False
            status = message["status"]
            if _response_head is not None and self.keep_alive and self.chunked is None:
                # the common head (one Content-Length, no Connection / Transfer-Encoding,
                # no bad byte) built natively, the same bytes; anything else: below
                built = _response_head(
                    STATUS_LINE[status], proto.default_headers, message.get("headers", ())
                )
                if built is not None:
                    self.head, self.remaining = built
                    self.chunked = False
                    return
            headers = proto.default_headers + list(message.get("headers", ()))
            names = b"-".join([h[0] for h in headers])
            if has_byte(names, _BAD_NAME_T):
                raise RuntimeError("Invalid HTTP header name.")
            if has_byte(b" ".join([h[1] for h in headers]), _BAD_VALUE_T):
                raise RuntimeError("Invalid HTTP header value.")
            content = [STATUS_LINE[status]]
            has_close = False
            for name, value in headers:
                name = name.lower()
                if name == b"content-length" and self.chunked is None:
                    self.remaining = int(value.decode())
                    self.chunked = False
                elif name == b"transfer-encoding" and value.lower() == b"chunked":
                    self.remaining = 0
                    self.chunked = True
                elif name == b"connection":
                    tokens = [t.lower().strip() for t in value.split(b",")]
                    if b"close" in tokens:
                        self.keep_alive = False
                        has_close = True
                content.append(name + b": " + value + b"\r\n")
            if not self.keep_alive and not has_close:
                content.append(b"connection: close\r\n")
            if self.chunked is None and not self.head_request and status not in (204, 304):
                self.chunked = True  # neither Content-Length nor Transfer-Encoding given
                content.append(b"transfer-encoding: chunked\r\n")
            content.append(b"\r\n")
            self.head = b"".join(content)  # leaves with the first body part
            return
        if self.response_complete:
            raise RuntimeError(
                f"Unexpected ASGI message '{message['type']}' sent, "
                "after response already completed."
            )
        if message["type"] != "http.response.body":
            raise RuntimeError(
                f"Expected ASGI message 'http.response.body', but got '{message['type']}'."
            )
        body = message.get("body", b"")
        more_body = message.get("more_body", False)
        if self.head_request:
            self.remaining = 0
            out = self.head
        elif self.chunked:
            out = self.head + (b"%x\r\n%b\r\n" % (len(body), body) if body else b"")
            if not more_body:
                out += b"0\r\n\r\n"
        else:
            if len(body) > self.remaining:
                raise RuntimeError("Response content longer than Content-Length")
            self.remaining -= len(body)
            out = self.head + body if self.head else body
        self.head = b""
        if out:
            proto.transport.write(out)
        if not more_body:
            if self.remaining != 0:
                raise RuntimeError("Response content shorter than Content-Length")
            self.response_complete = True
            self.wake()
            if not self.keep_alive:
                proto.transport.close()
            proto.on_response_complete()


class GatewayHttpToolsProtocol(asyncio.Protocol):
    """HTTP/1.1 with httptools for ``uvicorn.Server`` (``--http`` class), lean per request."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not config.loaded:
            config.load()
        self.config = config
        self.app = config.loaded_app
        # An app with an ``asgi_http`` handler (the gateway's: what its ``__call__`` awaits for
        # an "http" scope) is handed its requests there directly, one coroutine fewer a request
        # than through ``__call__``; any other app is called as ASGI.
        self.http_app = getattr(self.app, "asgi_http", None) or self.app
        self.loop = _loop or asyncio.get_event_loop()
        self.parser = httptools.HttpRequestParser(self)
        # as uvicorn: answer the first of pipelined requests even if data follows a close
        self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        self.root_path = config.root_path
        self.asgi = {"version": config.asgi_version, "spec_version": "2.3"}
        self.limit_concurrency = config.limit_concurrency
        self.keep_alive_timeout = config.timeout_keep_alive
        self.app_state = app_state
        self.server_state = server_state
        self.connections = server_state.connections
        self.tasks = server_state.tasks
        self.default_headers = server_state.default_headers

        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.server: tuple[str, int] | None = None
        self.client: tuple[str, int] | None = None
        self.scheme = "http"
        self.extensions: dict[str, Any] | None = None  # per connection (TLS)
        self.pipeline: deque[_Cycle] = deque()
        self.reading_paused = False
        self.write_paused: asyncio.Future[None] | None = None
        self.cycle: _Cycle | None = None  # the last request parsed
        self.running: _Cycle | None = None  # the request whose response is being produced
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._expect_continue = False
        self._head_bytes = 0
        self._idle_timer: asyncio.TimerHandle | None = None
        self._active_at = 0.0
        self._last_call = False  # shutting down: the first request is answered, then closed
        self._refuse_after: str | None = None  # a 400 owed once the pipelined answers are sent
        self._discarding = False  # refused: input is read and dropped until the close
        self._mid = False  # httptools is inside a request (begun, not complete)

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.connections.add(self)  # type: ignore[arg-type]
        self.transport = transport
        sockname = transport.get_extra_info("sockname")
        if isinstance(sockname, tuple) and len(sockname) >= 2:
            self.server = (str(sockname[0]), int(sockname[1]))
        peername = transport.get_extra_info("peername")
        if isinstance(peername, tuple) and len(peername) >= 2:
            self.client = (str(peername[0]), int(peername[1]))
        if transport.get_extra_info("sslcontext") is not None:
            self.scheme = "https"
        self._active_at = self.loop.time()
        self._arm_idle_timer(self.keep_alive_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.discard(self)
        for c in (self.running, self.cycle, *self.pipeline):
            if c is not None:
                if not c.response_complete:
                    c.disconnected = True
                c.wake()
        self.resume_writing()
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if exc is None:
            self.transport.close()
        self.parser = None  # type: ignore[assignment]

    def eof_received(self) -> None:
        pass

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return  # refused and half-closed: read and dropped (see _close_lingering)
        self._active_at = self.loop.time()
        if (
            _parse_request is not None
            and not self._mid
            and self.running is None
            and not self.pipeline
            and self._refuse_after is None
        ):
            # The usual request — whole, in one read, in the plainest form, nothing before or
            # after it — parsed in one native call; anything else is httptools' to parse
            # (the parser is between requests, so it never sees a part of this one).
            parsed = _parse_request(data, MAX_HEAD_BYTES, HIGH_WATER_LIMIT)
            if parsed is not None:
                method, raw_path, query, headers, body, keep_alive = parsed
                self._request(method, "1.1", raw_path, query, headers, keep_alive, False)
                cycle = self.cycle
                if cycle is not None and not cycle.response_complete:
                    if body:
                        cycle.body = body
                    cycle.more_body = False
                    cycle.wake()
                return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError:
            if self._refuse_after is not None and self.running is not None:
                self.pause_reading()  # the queue is full: refused once it is answered
            elif self._head_bytes > MAX_HEAD_BYTES:  # raised by on_url / on_header
                self._send_error(431, "Request header fields too large.")
            else:
                _log.warning("Invalid HTTP request received.")
                self._send_400("Invalid HTTP request received.")
        except httptools.HttpParserError:
            _log.warning("Invalid HTTP request received.")
            self._send_400("Invalid HTTP request received.")
        except httptools.HttpParserUpgrade:
            self._upgrade_refused()

    def pause_writing(self) -> None:
        if self.write_paused is None:
            self.write_paused = self.loop.create_future()

    def resume_writing(self) -> None:
        waiter, self.write_paused = self.write_paused, None
        _release(waiter)

    # -- flow control of the request side ----------------------------------------------------
    def pause_reading(self) -> None:
        if not self.reading_paused:
            self.reading_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.reading_paused:
            self.reading_paused = False
            self.transport.resume_reading()

    # -- httptools callbacks -----------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._mid = True
        if len(self.pipeline) >= MAX_PIPELINED:
            # one socket read can hold thousands of tiny pipelined requests, each a queued
            # scope: answer those queued, then refuse and close (the client may retry)
            self._refuse_after = "Too many pipelined requests."
            raise _Stop
        self._url = b""
        self._headers = []
        self._expect_continue = False
        self._head_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._head_bytes += len(url)
        if self._head_bytes > MAX_HEAD_BYTES:
            raise _Stop
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > MAX_HEAD_BYTES:
            raise _Stop
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self._expect_continue = True
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self.parser
        parsed = httptools.parse_url(self._url)
        self._request(
            parser.get_method().decode("ascii"),
            parser.get_http_version(),
            parsed.path,
            parsed.query or b"",
            self._headers,
            parser.should_keep_alive(),
            self._expect_continue,
        )

    def _request(
        self,
        method: str,
        http_version: str,
        raw_path: bytes,
        query: bytes,
        headers: list[tuple[bytes, bytes]],
        should_keep_alive: bool,
        expect_continue: bool,
    ) -> None:
        """A request's head is complete: its scope, its cycle, its app started or queued."""
        path = raw_path.decode("ascii")
        if "%" in path:
            path = urllib.parse.unquote(path)
        root = self.root_path
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": self.asgi,
            "http_version": http_version,
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,
            "root_path": root,
            "headers": headers,
            "state": self.app_state.copy(),
            "method": method,
            "path": root + path if root else path,
            "raw_path": root.encode("ascii") + raw_path if root else raw_path,
            "query_string": query,
        }
        if self.extensions is not None:
            scope["extensions"] = {"tls": self.extensions}
        keep_alive = http_version != "1.0" and should_keep_alive and not self._last_call
        cycle = _Cycle(self, scope, keep_alive, expect_continue)
        self.cycle = cycle
        app = self.http_app
        limit = self.limit_concurrency
        if limit is not None and (len(self.connections) >= limit or len(self.tasks) >= limit):
            app = service_unavailable
            _log.warning("Exceeded concurrency limit.")
        if self.running is None:
            self._start(cycle, app)
        else:  # pipelined: answered in order, after the one in progress
            self.pause_reading()
            self.pipeline.append(cycle)
            cycle.app = app

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            return
        buffered = cycle.body
        if not buffered:
            cycle.body = body  # the usual case: the whole body in one piece, no copy
        elif type(buffered) is bytearray:
            buffered += body
        else:
            cycle.body = bytearray(buffered) + body
        if len(cycle.body) > HIGH_WATER_LIMIT:
            self.pause_reading()
        cycle.wake()

    def on_message_complete(self) -> None:
        self._mid = False
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            return
        cycle.more_body = False
        cycle.wake()

    # -- requests and responses --------------------------------------------------------------
    def _start(self, cycle: _Cycle, app: Any) -> None:
        self.running = cycle
        task = self.loop.create_task(cycle.run(app))
        cycle.task = task
        self.tasks.add(task)

    def on_response_complete(self) -> None:
        self.server_state.total_requests += 1
        self.running = None
        if self.transport.is_closing():
            return
        self._active_at = self.loop.time()
        if self._refuse_after is not None and not self.pipeline:
            self._send_400(self._refuse_after)  # the requests before it are answered
            return
        if self.pipeline:
            cycle = self.pipeline.popleft()
            app, cycle.app = cycle.app, None
            self._start(cycle, app)
            if not self.pipeline and self._refuse_after is None:
                self.resume_reading()  # (a refusal owed: nothing more is read)
        else:
            self.resume_reading()

    def _send_400(self, msg: str) -> None:
        self._send_error(400, msg)

    def _send_error(self, status: int, msg: str) -> None:
        content = [STATUS_LINE[status]]
        for name, value in self.default_headers:
            content.append(name + b": " + value + b"\r\n")
        content.append(
            b"content-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%b" % (len(msg), msg.encode("ascii"))
        )
        self.transport.write(b"".join(content))
        self._close_lingering()

    def _close_lingering(self) -> None:
        """Close after a refusal without losing what was written. Closing a socket with
        unread data sends a reset, and a reset makes the client's kernel drop what it has not
        read yet — the refusal and the answers before it. So the sending side is shut
        (the client reads everything, then end of file) and what still arrives is read and
        dropped until the client closes or ``LINGER`` seconds pass, as nginx's lingering
        close does."""
        transport = self.transport
        if transport.is_closing():
            return
        try:
            if not transport.can_write_eof():  # TLS: no half-close
                transport.close()
                return
            transport.write_eof()
        except (OSError, RuntimeError):
            transport.close()
            return
        self._discarding = True
        self.resume_reading()
        self.loop.call_later(LINGER, self._end_linger)

    def _end_linger(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    def _upgrade_refused(self) -> None:
        # httptools stops at an upgrade (Connection: upgrade + Upgrade, or CONNECT): the
        # message ends with its headers and nothing after them is parsed.
        _log.warning("Unsupported upgrade request.")
        cycle = self.cycle
        if cycle is not None and any(
            (name == b"content-length" and value.strip() != b"0") or name == b"transfer-encoding"
            for name, value in cycle.scope["headers"]
        ):
            # a declared body that will never be read: the app must not act on the request
            # as if it had none — it sees a disconnect, the client a 400 (after the answers
            # to the requests pipelined before it, which are already being served)
            cycle.disconnected = True
            cycle.wake()
            if self.running is not None and self.running is not cycle:
                with contextlib.suppress(ValueError):
                    self.pipeline.remove(cycle)
                self._refuse_after = "Unsupported upgrade request."
                self.pause_reading()
                return
            self._send_400("Unsupported upgrade request.")
            return
        if cycle is not None:
            cycle.keep_alive = False  # nothing after it can be parsed: close once answered
        self.pause_reading()

    # -- keep-alive and shutdown ------------------------------------------------------------
    def _arm_idle_timer(self, delay: float) -> None:
        self._idle_timer = self.loop.call_later(delay, self._check_idle)

    def _check_idle(self) -> None:
        self._idle_timer = None
        if self.transport.is_closing():
            return
        running = self.running
        # A request whose app waits for body bytes that do not come is idle, not busy: a
        # client that stops sending mid-body is cut off after the timeout (the app sees a
        # disconnect) instead of holding the connection — and a graceful shutdown — for ever.
        stalled = running is not None and running.waiter is not None and running.more_body
        busy = (running is not None and not stalled) or self.pipeline
        idle_for = self.loop.time() - self._active_at
        if busy or idle_for < self.keep_alive_timeout:
            self._arm_idle_timer(self.keep_alive_timeout - (0 if busy else idle_for))
            return
        self.transport.close()

    def shutdown(self) -> None:
        """Called by the server to start a graceful shutdown."""
        if self.transport.is_closing():
            return
        if self.cycle is None:
            # no request yet on this connection: its first may be on the way — answer it
            self._last_call = True
            self.loop.call_later(FIRST_REQUEST_GRACE, self._close_if_no_request)
        elif self.running is None and not self.pipeline:
            self.transport.close()
        else:
            last = self.pipeline[-1] if self.pipeline else self.running
            if last is not None:
                last.keep_alive = False

    def _close_if_no_request(self) -> None:
        if self.cycle is None and not self.transport.is_closing():
            self.transport.close()
