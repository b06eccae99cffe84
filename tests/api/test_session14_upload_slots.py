"""Session 14: at most RINGFENCE_API_MAX_CONCURRENT_UPLOADS large bodies at once per process.

ee6889b made a caller known before it sends more than 64 KiB; nothing capped how many known
callers (or one token on many connections) upload 20 MiB documents at once, each held in
memory by its route. One more than the cap is answered 503 ``uploads_busy`` with Retry-After
before a byte of its body is read; small bodies are not counted. On a real uvicorn on loopback.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress

from ringfence.api import create_app
from ringfence.core.config import Settings
from tests.api.conftest import Api
from tests.api.loopback import Answer, push, serve

UPLOAD = "/api/v1/vendor-risk/document-uploads/Acme?filename=soc2.pdf"
PDF = {"Content-Type": "application/pdf"}
SIZE = 1024 * 1024
PART = 128 * 1024


async def _open_upload(port: int, headers: dict[str, str]) -> asyncio.StreamWriter:
    """An upload that has sent its head and part of its body, and waits."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"POST {UPLOAD} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {SIZE}"]
    lines += [f"{k}: {v}" for k, v in {**PDF, **headers}.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + b"%PDF" + b"x" * (PART - 4))
    await writer.drain()
    writer.reader = reader  # type: ignore[attr-defined]
    return writer


async def _finish(writer: asyncio.StreamWriter) -> int:
    writer.write(b"x" * (SIZE - PART))
    await writer.drain()
    reader: asyncio.StreamReader = writer.reader  # type: ignore[attr-defined]
    status = int((await asyncio.wait_for(reader.readline(), 30)).split()[1])
    writer.close()
    with suppress(ConnectionError):
        await writer.wait_closed()
    return status


def test_one_upload_more_than_the_cap_is_503_before_its_body_is_read(api: Api) -> None:
    assert api.post("/api/v1/vendors", {"name": "Acme"}).status_code == 201
    cap = Settings().api_max_concurrent_uploads
    with serve(create_app(api.runtime)) as served:

        async def main() -> tuple[Answer, Answer, list[int], Answer]:
            held = [await _open_upload(served.port, api.rw) for _ in range(cap)]
            await asyncio.sleep(0.5)  # each has taken its slot (its body is being read)
            refused = await push(served.port, UPLOAD, size=SIZE, headers={**PDF, **api.rw})
            # Small bodies are not uploads: still served while the slots are taken.
            small = await push(
                served.port,
                "/api/v1/vendors",
                size=0,
                headers={**api.rw, "Content-Type": "application/json"},
            )
            done = [await _finish(w) for w in held]
            after = await push(served.port, UPLOAD, size=SIZE, headers={**PDF, **api.rw})
            return refused, small, done, after

        refused, small, done, after = asyncio.run(main())
        assert refused.status == 503, refused.body
        assert refused.json()["code"] == "uploads_busy"
        assert refused.headers["retry-after"] == "5"
        assert served.counter.read[refused.client_port] == 0
        assert small.status != 503, small.body
        assert done == [201] * cap
        assert after.status == 201, after.body  # the slots were given back
