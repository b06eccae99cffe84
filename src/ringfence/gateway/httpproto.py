"""uvicorn's httptools protocol with one socket write per response instead of two.

uvicorn writes the status line + headers on ``http.response.start`` and the body on
``http.response.body``: two ``send`` system calls per response, each costing the sender the
TCP work and the receiver a wake-up. Behind a ``CorkedTransport`` (``gateway/cork.py``) the
writes of one event-loop step leave in one write — the gateway always sends head and body
back to back — with the same bytes in the same order. Everything else is uvicorn's protocol
unchanged.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ringfence.gateway.cork import CorkedTransport


class GatewayHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing each response with one socket write."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        corked = CorkedTransport(transport, asyncio.get_running_loop())
        super().connection_made(corked)  # type: ignore[arg-type]
