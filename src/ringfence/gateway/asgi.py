"""Small raw-ASGI helpers of the gateway: bounded body reading, responses, header lookup.

Bodies are read with a hard cap (413 as soon as it is exceeded, whatever Content-Length
claims); responses always carry ``X-Request-Id`` and ``nosniff``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from ringfence.gateway.stages import Deny

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# RFC 3986 query characters (percent-encoded otherwise); nothing that could end the request line.
QUERY_OK = re.compile(rb"[A-Za-z0-9\-._~!$&'()*+,;=:@/?%\[\]|^`{}\\\"<>]*")


def header_value(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    for k, v in headers:
        if k.lower() == name:
            return v.decode("latin-1")
    return ""


async def send_body(
    send: Send,
    status: int,
    ctype: bytes,
    body: bytes,
    request_id: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    hdrs = [
        (b"content-type", ctype),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"cache-control", b"no-store"),
    ]
    if headers:
        names = {k for k, _ in headers}
        hdrs = [h for h in hdrs if h[0] not in names] + headers
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body})


def _check_declared(cap: int, headers: dict[bytes, bytes]) -> None:
    declared = headers.get(b"content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Deny(400, "bad_content_length", "invalid Content-Length")
        if int(declared) > cap:
            raise Deny(413, "payload_too_large", f"request body exceeds {cap} bytes")


def checked_body(body: bytes, cap: int, headers: dict[bytes, bytes]) -> bytes:
    """``read_body``'s checks and answer for a body already received whole (the server's
    ``_Cycle.whole_body``): the same refusals, in the same order."""
    _check_declared(cap, headers)
    if len(body) > cap:
        raise Deny(413, "payload_too_large", f"request body exceeds {cap} bytes")
    return body


async def read_body(receive: Receive, cap: int, headers: dict[bytes, bytes]) -> bytes:
    _check_declared(cap, headers)
    chunks: list[bytes] = []
    total = 0
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            raise Deny(400, "client_disconnected", "client went away")
        chunk = msg.get("body", b"")
        if chunk:
            total += len(chunk)
            if total > cap:
                raise Deny(413, "payload_too_large", f"request body exceeds {cap} bytes")
            chunks.append(chunk)
        if not msg.get("more_body", False):
            break
    return b"".join(chunks)


def byte_table(bad: re.Pattern[bytes]) -> bytes:
    """A ``bytes.translate`` table sending each byte ``bad`` matches to 0 and the rest to 1:
    ``has_byte(data, table)`` answers as ``bad.search(data) is not None`` in ≈ 2 instructions
    a byte (translate, then memchr), where ``re`` takes ≈ 10."""
    return bytes(0 if bad.fullmatch(bytes([b])) else 1 for b in range(256))


def has_byte(data: bytes, table: bytes) -> bool:
    return data.translate(table).find(0) >= 0
