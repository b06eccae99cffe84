"""Compressed vendor answers (found while fixing review 9 finding 5).

httpx asks for ``gzip, deflate``, and real vendor APIs answer compressed. The body-size cap
re-built the response with the *decoded* body but the original ``Content-Encoding`` header, so
httpx decoded it a second time: every compressed answer raised ``httpx.DecodingError`` out of
``collect()`` and aborted the pull. A body that does not match its encoding escaped the same
way. Decoded once now; a bad encoding is a malformed response; the size cap counts decoded
bytes (a gzip bomb is refused).
"""

from __future__ import annotations

import gzip
import json
import zlib

import httpx
import pytest

from ringfence.connectors import Connector, ConnectorConfig, build_connector
from tests.connectors.conftest import Sleeps

APPS = json.dumps([{"id": "0oa1", "label": "A", "status": "ACTIVE"}]).encode()


def raw(status: int, encoding: str, body: bytes) -> httpx.Response:
    """A response as it comes off the wire: still encoded (httpx decodes while reading)."""
    return httpx.Response(
        status, headers={"Content-Encoding": encoding}, stream=httpx.ByteStream(body)
    )


def make(response: httpx.Response, sleeps: Sleeps, max_body_bytes: int = 1 << 20) -> Connector:
    cfg = ConnectorConfig(
        vendor="okta",
        base_url="https://tenant.example",
        credential_ref="env:RF_TEST_SAAS_TOKEN",
        max_retries=0,
        max_body_bytes=max_body_bytes,
    )
    return build_connector(cfg, transport=httpx.MockTransport(lambda req: response), sleep=sleeps)


@pytest.mark.parametrize(
    "encoding, body",
    [("gzip", gzip.compress(APPS)), ("deflate", zlib.compress(APPS))],
    ids=["gzip", "deflate"],
)
def test_a_compressed_answer_is_read(
    encoding: str, body: bytes, sleeps: Sleeps, fake_token: str
) -> None:
    resp = raw(200, encoding, body)
    result = make(resp, sleeps).apps()
    assert result.complete and [a.external_id for a in result.items] == ["0oa1"]


def test_a_compressed_error_answer_keeps_its_detail(sleeps: Sleeps, fake_token: str) -> None:
    body = gzip.compress(b'{"errorSummary": "Invalid token provided"}')
    resp = raw(401, "gzip", body)
    result = make(resp, sleeps).apps()
    assert result.error is not None and "HTTP 401: Invalid token provided" in str(result.error)


def test_a_body_that_does_not_match_its_encoding_is_a_malformed_response(
    sleeps: Sleeps, fake_token: str
) -> None:
    resp = raw(200, "gzip", b"not gzip")
    result = make(resp, sleeps).apps()
    assert result.error is not None and "does not match its Content-Encoding" in str(result.error)


def test_a_gzip_bomb_is_refused_by_its_decoded_size(sleeps: Sleeps, fake_token: str) -> None:
    bomb = gzip.compress(b"[" + b" " * 5_000_000 + b"]")
    assert len(bomb) < 10_000
    resp = raw(200, "gzip", bomb)
    result = make(resp, sleeps, max_body_bytes=1_000_000).apps()
    assert result.error is not None and "exceeds 1000000 bytes" in str(result.error)
