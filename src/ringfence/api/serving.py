"""How the control-plane API is served: deadlines for slow senders, connection and upload caps.

Stock uvicorn reads a request for as long as the client takes: a client that sends its head
or its body a byte at a time (slowloris) holds the connection — and, for a body, the memory
the route reads it into — indefinitely, and nothing caps how many do it at once. Here:

- ``ApiHttpProtocol`` (uvicorn's httptools protocol, plugged in as ``uvicorn.Config(http=)``)
  gives a request ``head_timeout`` seconds to send its request line and headers (from the
  connection's opening, or from the first byte of a later request on a kept-alive
  connection) and ``body_timeout`` seconds, from the end of the head, to send its whole body.
  A request that takes longer is answered ``408 request_timeout`` problem+json (unless an
  answer has begun) and the connection is closed, whatever the client's pace; a head over
  ``MAX_HEAD_BYTES`` is answered ``431`` as it passes it (uvicorn sets no limit), a malformed
  request ``400`` problem+json. ``max_connections`` (uvicorn's ``limit_concurrency``) answers
  requests beyond it ``503 unavailable`` problem+json with ``Retry-After``.
- ``UploadSlots`` (ASGI middleware) lets at most ``max_uploads`` requests per process send a
  body over ``ANONYMOUS_MAX_BODY`` at once (the size only a known caller may send, see
  ``api/limits.py``); one more is answered ``503 uploads_busy`` with ``Retry-After`` before a
  byte of its body is read.

The gateway has its own protocol (``gateway/httpproto.py``); its idle timer is reset by every
byte, so it does not bound a dribbling client's total time, and it is tuned for the gateway's
hot path by its owners: the API does not share it. Never logs a body or a header value.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from ringfence.api.limits import ANONYMOUS_MAX_BODY
from ringfence.api.problems import problem
from ringfence.core.config import Settings

MAX_HEAD_BYTES = 64 * 1024  # request line + headers; more is answered 431 as it passes it
RETRY_AFTER_SECONDS = 5  # what a refused upload or connection is told to wait
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_log = logging.getLogger("ringfence.api.serving")


@dataclass(frozen=True)
class ServingLimits:
    """The control plane's limits on slow and numerous clients (``RINGFENCE_API_*``)."""

    head_timeout: float = 10.0
    body_timeout: float = 120.0
    max_connections: int = 512
    max_uploads: int = 4


def serving_limits(settings: Settings) -> ServingLimits:
    return ServingLimits(
        head_timeout=settings.api_head_timeout_seconds,
        body_timeout=settings.api_body_timeout_seconds,
        max_connections=settings.api_max_connections,
        max_uploads=settings.api_max_concurrent_uploads,
    )


def _problem_bytes(status: int, code: str, title: str, detail: str, extra: bytes = b"") -> bytes:
    """A whole HTTP/1.1 problem+json answer that closes the connection, written by the
    protocol itself (no app is running for the request, or the app's answer is cut off)."""
    body = json.dumps(
        {
            "type": f"https://ringfence.dev/problems/{code}",
            "title": title,
            "status": status,
            "detail": detail,
            "code": code,
        }
    ).encode()
    return (
        STATUS_LINE[status]
        + b"content-type: application/problem+json\r\n"
        + b"content-length: %d\r\n" % len(body)
        + extra
        + b"connection: close\r\n\r\n"
        + body
    )


class _HeadTooLarge(Exception):
    """Raised in a parser callback: the head passed MAX_HEAD_BYTES (httptools stops)."""


class ApiHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with total-time limits on a request's head and body,
    a head size limit, and problem+json for the answers the protocol gives itself.
    Configure with ``ApiHttpProtocol.configured(limits)``."""

    head_timeout: float = ServingLimits.head_timeout
    body_timeout: float = ServingLimits.body_timeout

    @classmethod
    def configured(cls, limits: ServingLimits) -> type[ApiHttpProtocol]:
        # uvicorn builds the protocol from its Config alone: the limits travel on a subclass
        return type(
            "ApiHttpProtocol",
            (cls,),
            {"head_timeout": limits.head_timeout, "body_timeout": limits.body_timeout},
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._head_too_large = False
        self._own_app = self.app
        limit = self.limit_concurrency
        # uvicorn's own over-limit answer is plain text: this one is problem+json
        self.limit_concurrency = None
        self._max_connections = limit

    # -- deadlines -----------------------------------------------------------------------
    def _arm(self, delay: float, phase: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(delay, self._expired, phase)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, phase: str) -> None:
        self._deadline = None
        transport = self.transport
        if transport.is_closing() or transport.get_protocol() is not self:
            return
        cycle = self.cycle
        # An answer under way (this request's, or an earlier pipelined one's): not interleaved
        answering = bool(self.pipeline) or (
            cycle is not None and cycle.response_started and not cycle.response_complete
        )
        _log.warning(
            "api_request_timeout",
            extra={"phase": phase, "client": self.client[0] if self.client else None},
        )
        if not answering:
            limit = self.head_timeout if phase == "head" else self.body_timeout
            detail = f"the request {phase} did not arrive within {limit:g} seconds"
            transport.write(_problem_bytes(408, "request_timeout", "Request timeout", detail))
        if cycle is not None and not cycle.response_complete:
            # the app waiting for the rest of the body sees a disconnect; its answer is dropped
            cycle.disconnected = True
            cycle.message_event.set()
        transport.close()

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.head_timeout, "head")  # uvicorn waits for a first byte for ever

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        self._disarm()
        if self._head_too_large:
            answer = _problem_bytes(
                431,
                "request_header_fields_too_large",
                "Request header fields too large",
                f"the request line and headers exceed {MAX_HEAD_BYTES} bytes",
            )
        else:
            answer = _problem_bytes(400, "invalid_request", "Malformed request", msg)
        self.transport.write(answer)
        self.transport.close()

    # -- httptools callbacks ---------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        if self._deadline is None:  # a later request on a kept-alive connection
            self._arm(self.head_timeout, "head")

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count_head(self, n: int) -> None:
        self._head_bytes += n
        if self._head_bytes > MAX_HEAD_BYTES:
            self._head_too_large = True
            raise _HeadTooLarge

    def on_headers_complete(self) -> None:
        limit = self._max_connections
        over = limit is not None and (len(self.connections) > limit or len(self.tasks) >= limit)
        if over:
            self.app = _over_capacity
        try:
            super().on_headers_complete()
        finally:
            self.app = self._own_app
        self._arm(self.body_timeout, "body")  # disarmed when the message completes

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()
        cycle = self.cycle
        if cycle is not None and cycle.response_complete and not self.transport.is_closing():
            # answered before its body ended: uvicorn's keep-alive timer went with the body's
            # bytes, so the wait for the next request is timed here
            self._arm(self.head_timeout, "head")


async def _over_capacity(scope: Scope, receive: Receive, send: Send) -> None:
    _log.warning("api_connection_limit")
    resp = problem(
        503,
        "unavailable",
        "Service unavailable",
        "the server has too many connections; retry shortly",
        scope.get("path"),
    )
    resp.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    resp.headers["Connection"] = "close"
    await resp(scope, receive, send)


class UploadSlots:
    """At most ``max_uploads`` requests per process send a body over ``threshold`` at once.

    A declared ``Content-Length`` over it takes a slot before the body is read; a body without
    one takes it as it passes ``threshold``. Without a free slot the answer is ``503
    uploads_busy`` with ``Retry-After`` (the route sees a disconnect if it had begun reading).
    A slot is held until the route has answered: the route's copies of the body live as long."""

    def __init__(
        self, app: ASGIApp, *, max_uploads: int, threshold: int = ANONYMOUS_MAX_BODY
    ) -> None:
        self.app = app
        self.max_uploads = max_uploads
        self.threshold = threshold
        self.in_use = 0

    def _refusal(self, scope: Scope) -> Any:
        resp = problem(
            503,
            "uploads_busy",
            "Too many uploads",
            f"{self.max_uploads} large uploads are in progress on this server; retry shortly",
            scope.get("path"),
        )
        resp.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return resp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        declared: int | None = None
        for name, value in scope["headers"]:
            if name.lower() == b"content-length" and value.strip().isdigit():
                declared = int(value)
        if declared is not None and declared <= self.threshold:
            await self.app(scope, receive, send)
            return
        held = False
        refused = False
        started = False
        if declared is not None:
            if self.in_use >= self.max_uploads:
                await self._refusal(scope)(scope, receive, send)
                return
            self.in_use += 1
            held = True
        seen = 0

        async def counted() -> Message:
            nonlocal seen, held, refused
            message = await receive()
            if refused or held or message["type"] != "http.request":
                return {"type": "http.disconnect"} if refused else message
            seen += len(message.get("body", b""))
            if seen > self.threshold:
                if self.in_use >= self.max_uploads:
                    refused = True
                    if not started:
                        await self._refusal(scope)(scope, receive, send)
                    return {"type": "http.disconnect"}
                self.in_use += 1
                held = True
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the refusal was the answer
            started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded_send)
        except Exception:
            if not refused:  # else: the route's reaction to the disconnect it was handed
                raise
        finally:
            if held:
                self.in_use -= 1


def api_server_config(
    app: ASGIApp, *, host: str, port: int, limits: ServingLimits, **options: Any
) -> Any:
    """The ``uvicorn.Config`` the control-plane API runs under (``ringfence serve``)."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=ApiHttpProtocol.configured(limits),
        ws="none",  # the API and console serve no WebSocket
        limit_concurrency=limits.max_connections,
        **options,
    )
