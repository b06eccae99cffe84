"""A transport wrapper that sends the writes of one event-loop step in one socket write.

Each ``transport.write`` on a socket is a system call; on a busy gateway the kernel work of
many small sends (and the wake-ups they cause on the other side) costs more than the Python
around them. ``CorkedTransport`` holds what is written during one loop step and hands it to
the socket in one write at the end of that step, or earlier when the connection is closed.
Used for the responses to clients (head + body of one response) and for the Redis connection
(the rate-limit commands of all requests that reach the limiter in the same step).

It must never drop, duplicate or reorder written bytes: bytes reach the socket in write order,
``close`` and ``write_eof`` flush first; ``abort`` discards, as it does on the socket.
"""

from __future__ import annotations

import asyncio
from typing import Any


class CorkedTransport:
    """Delegates to ``inner``; ``write`` calls made in one loop step go out as one write."""

    __slots__ = ("_chunks", "_inner", "_loop", "_scheduled")

    def __init__(self, inner: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._inner = inner
        self._loop = loop
        self._chunks: list[bytes] = []
        self._scheduled = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        self._chunks.append(bytes(data))
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self.flush)

    def write_now(self, data: bytes) -> None:
        """Like ``write``, but if nothing else waits in this step the bytes leave at once.

        For a request whose reply the writer can use while it does other work (the
        rate-limit hit sent before the body is validated): waiting for the end of the step
        would hold it until that work is done. Later writes of the step still go out together
        (and after this one: order is kept).
        """
        if self._scheduled:
            self.write(data)  # others wrote in this step: keep the order, go out with them
        elif data:
            self._inner.write(data)
            self._scheduled = True  # the rest of this step's writes wait for its end
            self._loop.call_soon(self.flush)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._scheduled = False
        chunks = self._chunks
        if not chunks:
            return
        self._chunks = []
        if self._inner.is_closing():
            return  # the peer or an abort closed it: the socket would drop these bytes too
        self._inner.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))

    def close(self) -> None:
        self.flush()
        self._inner.close()

    def abort(self) -> None:
        self._chunks = []
        self._inner.abort()

    def write_eof(self) -> None:
        self.flush()
        self._inner.write_eof()

    def get_write_buffer_size(self) -> int:
        return self._inner.get_write_buffer_size() + sum(len(c) for c in self._chunks)

    def __getattr__(self, name: str) -> Any:
        # is_closing, get_extra_info, pause_reading, resume_reading, set_protocol, ...
        return getattr(self._inner, name)
