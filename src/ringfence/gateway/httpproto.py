"""uvicorn's httptools protocol with one socket write per response instead of two, and a
graceful shutdown that answers a new connection's first request.

uvicorn writes the status line + headers on ``http.response.start`` and the body on
``http.response.body``: two ``send`` system calls per response, each costing the sender the
TCP work and the receiver a wake-up. Behind a ``CorkedTransport`` (``gateway/cork.py``) the
writes of one event-loop step leave in one write — the gateway always sends head and body
back to back — with the same bytes in the same order.

At a graceful shutdown (SIGTERM, or a worker replaced by a rolling restart) uvicorn closes
every connection without a request in progress, including one accepted a moment ago whose
first request is still on its way: that client sees its connection closed without an answer
(it has no reason to retry, unlike a keep-alive connection closed while idle). Such a fresh
connection is given ``FIRST_REQUEST_GRACE`` seconds to send its request, which is answered
with ``connection: close``. Everything else is uvicorn's protocol unchanged.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ringfence.gateway.cork import CorkedTransport

FIRST_REQUEST_GRACE = 5.0  # at shutdown: how long a fresh connection may take to send its request


class GatewayHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing each response with one socket write."""

    _last_call = False  # shutting down: the first request is answered, then the connection closes

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        corked = CorkedTransport(transport, asyncio.get_running_loop())
        super().connection_made(corked)  # type: ignore[arg-type]

    def shutdown(self) -> None:
        if self.cycle is None and not self.transport.is_closing():
            # no request yet on this connection: its first may be on the way — answer it
            self._last_call = True
            self.loop.call_later(FIRST_REQUEST_GRACE, self._close_if_no_request)
            return
        super().shutdown()

    def _close_if_no_request(self) -> None:
        if self.cycle is None:
            self.transport.close()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self._last_call and self.cycle is not None:
            self.cycle.keep_alive = False  # "connection: close", closed after the response
