"""Session 14: the public questionnaire link's bodies are read only once its link is open.

The link in the path is the credential (no header names a vendor), so the body guard asks
the link before reading more than a stranger's allowance of a JSON upload, and the HTML form
(up to 25 MiB) checks it before reading a byte. A valid link keeps its limits: 1 MiB JSON
(evidence as base64), 25 MiB form. Measured on a real uvicorn on loopback.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator

import pytest

from ringfence.api import create_app
from ringfence.runtime import Runtime
from tests.api.loopback import Answer, Served, push, serve
from tests.vendors.test_api import Client, _send, _token, client  # noqa: F401

ANONYMOUS_MAX_BODY = 64 * 1024  # api.limits
JSON = {"Content-Type": "application/json"}
UNKNOWN = "rf_vq_" + "A" * 43


@pytest.fixture
def served(runtime: Runtime, client: Client) -> Iterator[Served]:  # noqa: F811
    with serve(create_app(runtime)) as s:
        yield s


def _one(call: object) -> Answer:
    async def run() -> Answer:
        return await call  # type: ignore[misc]

    return asyncio.run(run())


def test_a_large_json_upload_to_a_link_that_is_not_open_is_refused_unread(
    served: Served,
) -> None:
    for path in (
        f"/api/v1/vendor-assessments/{UNKNOWN}/documents",
        f"/api/v1/vendor-assessments/{UNKNOWN}",
    ):
        a = _one(push(served.port, path, size=900 * 1024, headers=JSON))
        assert a.status == 404 and a.json()["code"] == "unknown_link", a.body
        assert a.headers["content-type"].startswith("application/problem+json")
        assert served.counter.read[a.client_port] == 0
        streamed = _one(push(served.port, path, size=900 * 1024, headers=JSON, chunked=True))
        assert streamed.status == 404
        assert served.counter.read[streamed.client_port] <= ANONYMOUS_MAX_BODY + 256 * 1024


def test_a_form_to_a_link_that_is_not_open_is_answered_before_it_is_read(
    served: Served,
) -> None:
    form = {"Content-Type": "multipart/form-data; boundary=x"}
    a = _one(
        push(served.port, f"/vendor-assessments/{UNKNOWN}", size=25 * 1024 * 1024, headers=form)
    )
    assert a.status == 404 and a.headers["content-type"].startswith("text/html")
    assert served.counter.read[a.client_port] == 0


def test_an_open_link_still_takes_its_large_evidence_upload(
    served: Served,
    client: Client,  # noqa: F811
) -> None:
    token = _token(_send(client)["link"])
    content = base64.b64encode(b"%PDF" + b"\x01" * (700 * 1024)).decode()
    body = json.dumps({"question_id": "AA-03", "filename": "soc2.pdf", "content_base64": content})
    path = f"/api/v1/vendor-assessments/{token}/documents"

    async def post() -> Answer:
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode() + body.encode())
        await writer.drain()
        status = int((await reader.readline()).split()[1])
        writer.close()
        return Answer(status, {}, b"", len(body), 0)

    assert len(body) > ANONYMOUS_MAX_BODY
    assert asyncio.run(post()).status == 201
