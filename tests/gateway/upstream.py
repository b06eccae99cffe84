"""A loopback upstream for gateway tests: echoes what it received, or misbehaves on request."""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import uvicorn

TOKEN_CALLS: list[int] = []


async def upstream_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            break
    path = scope["path"]
    if path.startswith("/oauth/token-bad/"):
        # a token endpoint answering 200 with an access token or lifetime no broker may use
        kind = path.rsplit("/", 1)[1]
        payload: Any = {
            "crlf": {"access_token": "tok\r\nX-Injected: 1", "expires_in": 300},
            "lf": {"access_token": "tok\nX-Injected: 1", "expires_in": 300},
            "unicode": {"access_token": "t\u00f6k\u20ac", "expires_in": 300},
            "empty": {"access_token": "", "expires_in": 300},
            "number": {"access_token": 12345, "expires_in": 300},
            "list": ["access_token"],
        }[kind]
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": orjson.dumps(payload)})
        return
    if path == "/oauth/token":
        headers = dict(scope["headers"])
        expected = b"Basic " + base64.b64encode(b"gw-client:upstream-secret-value-1234")
        if (
            headers.get(b"authorization") != expected
            or b"grant_type=client_credentials" not in body
        ):
            await send({"type": "http.response.start", "status": 401, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        TOKEN_CALLS.append(1)
        raw = orjson.dumps(
            {
                "access_token": f"up-tok-{len(TOKEN_CALLS)}",
                "expires_in": 300,
                "token_type": "Bearer",
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": raw})
        return
    if path.endswith("/gzip"):
        import gzip

        raw = gzip.compress(orjson.dumps({"email": "hidden@corp.example"}))
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-encoding", b"gzip")],
            }
        )
        await send({"type": "http.response.body", "body": raw})
        return
    if path.endswith("/redirect"):
        await send(
            {
                "type": "http.response.start",
                "status": 302,
                "headers": [(b"location", b"http://169.254.169.254/latest/meta-data/")],
            }
        )
        await send({"type": "http.response.body", "body": b""})
        return
    if path.endswith("/huge"):
        chunk = b"x" * 1_048_576
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/octet-stream")],
            }
        )
        for _ in range(50):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    if path.endswith("/pii"):
        data = {"name": "Ann", "email": "ann@example.com", "card": "4539 1488 0343 6467"}
        raw = orjson.dumps(data)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": raw})
        return
    if path.endswith("/extra"):
        raw = orjson.dumps({"id": "1", "name": "x", "internal_secret_field": "leak"})
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": raw})
        return
    if path.endswith("/busy"):  # an error page of the upstream's, not the promised JSON
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [(b"content-type", b"text/html"), (b"retry-after", b"7")],
            }
        )
        await send({"type": "http.response.body", "body": b"<h1>busy, try later</h1>"})
        return
    if path.endswith("/file") or path.endswith("/notjson"):
        # a file DLP cannot read (with personal data in it), or text where JSON was promised
        ctype, raw = (
            (b"application/pdf", b"%PDF-1.7\n\x00\x01 ann@example.com 4539 1488 0343 6467")
            if path.endswith("/file")
            else (b"text/plain", b"not json at all")
        )
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", ctype)]}
        )
        await send({"type": "http.response.body", "body": raw})
        return
    if path.endswith("/utf16") or path.endswith("/utf16-nocharset"):
        ctype = b"text/csv; charset=utf-16le" if path.endswith("/utf16") else b"text/csv"
        raw = "name,email,card\nAnn,ann@corp.example,4539 1488 0343 6467\n".encode("utf-16-le")
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", ctype)]}
        )
        await send({"type": "http.response.body", "body": raw})
        return
    if path.endswith("/slow"):
        await asyncio.sleep(5)
    echo = {
        "method": scope["method"],
        "path": scope["path"],
        "raw_path": scope.get("raw_path", b"").decode("latin-1"),
        "query": scope["query_string"].decode("latin-1"),
        "headers": {k.decode(): v.decode("latin-1") for k, v in scope["headers"]},
        "body": body.decode("utf-8", "replace"),
        # whether the gateway injected the vault's header credential: a yes/no the tests can
        # read even where response DLP redacts the echoed secret itself
        "upstream_key_injected": dict(scope["headers"]).get(b"x-upstream-key")
        == b"upstream-secret-value-1234",
    }
    raw = orjson.dumps(echo)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"set-cookie", b"s=1"),
                (b"server", b"upstream/1.0"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_in_thread(app: Any, port: int | None = None) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free loopback port in a thread; yields its base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        threading.Event().wait(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
