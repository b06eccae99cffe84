"""Review 9, finding 5: one deeply nested JSON body ends one listing, not the whole pull.

``json_body``, ``error_detail`` and Google's ``rate_limit_delay`` caught only ValueError, so a
body of 200,000 nested arrays raised RecursionError out of ``collect()`` ("internal error",
every vendor's pull aborted). A body nested deeper than ``MAX_JSON_DEPTH`` is now a malformed
response like any other unparsable body.
"""

from __future__ import annotations

import httpx
import pytest

from ringfence.connectors import Connector, ConnectorConfig, build_connector
from ringfence.connectors._base import MAX_JSON_DEPTH
from tests.connectors.conftest import Sleeps

BOMB = b"[" * 200_000 + b"]" * 200_000


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def make(vendor: str, handler: httpx.MockTransport, sleeps: Sleeps) -> Connector:
    cfg = ConnectorConfig(
        vendor=vendor,
        base_url="https://tenant.example",
        credential_ref="env:RF_TEST_SAAS_TOKEN",
        max_retries=1,
    )
    return build_connector(cfg, transport=handler, sleep=sleeps)


@pytest.mark.parametrize("body", [BOMB, nested(MAX_JSON_DEPTH + 1), nested(5000)])
def test_a_deeply_nested_listing_is_a_malformed_response_and_the_snapshot_goes_on(
    body: bytes, sleeps: Sleeps, fake_token: str
) -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/api/v1/users":
            return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})
        return httpx.Response(200, json=[{"id": "0oa1", "label": "App", "status": "ACTIVE"}])

    snap = make("okta", httpx.MockTransport(handler), sleeps).snapshot()
    assert snap.people.error is not None
    assert "malformed response" in str(snap.people.error)
    assert "nested" in str(snap.people.error)
    assert [a.external_id for a in snap.apps.items] == ["0oa1"] and snap.apps.complete


def test_nesting_up_to_the_limit_is_accepted(sleeps: Sleeps, fake_token: str) -> None:
    deep: object = "x"
    for _ in range(MAX_JSON_DEPTH - 3):  # the page list, the record, its 'profile'
        deep = [deep]
    record = {"id": "00u1", "status": "ACTIVE", "profile": {"login": "a@x.example", "d": deep}}

    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[record] if req.url.path == "/api/v1/users" else [])

    result = make("okta", httpx.MockTransport(handler), sleeps).people()
    assert result.complete and [p.login for p in result.items] == ["a@x.example"]


def test_a_deeply_nested_error_body_still_gives_the_http_error(
    sleeps: Sleeps, fake_token: str
) -> None:
    c = make("okta", httpx.MockTransport(lambda req: httpx.Response(400, content=BOMB)), sleeps)
    result = c.apps()
    assert result.error is not None and result.error.http_status == 400
    assert "HTTP 400: [[[[" in str(result.error)


@pytest.mark.parametrize(
    "body",
    [
        BOMB,
        nested(MAX_JSON_DEPTH + 1),
        b'{"error": {"errors": 5}}',
        b'{"error": {"errors": [{"reason": []}]}}',
    ],
)
def test_google_rate_limit_check_survives_an_odd_403_body(
    body: bytes, sleeps: Sleeps, fake_token: str
) -> None:
    c = make(
        "google_workspace",
        httpx.MockTransport(lambda req: httpx.Response(403, content=body)),
        sleeps,
    )
    result = c.people()
    assert result.error is not None and result.error.http_status == 403 and sleeps == []


@pytest.mark.parametrize(
    "last_login", [b"1e20", b"1" + b"0" * 30, b'"' + b"9" * 40 + b'"', b"-1e20", b"1e400"]
)
def test_an_out_of_range_timestamp_is_a_malformed_record_not_a_crash(
    last_login: bytes, sleeps: Sleeps, fake_token: str
) -> None:
    """Same class of bug: datetime.fromtimestamp raised OverflowError / OSError out of
    collect() (only ValueError and friends were caught), aborting every vendor's pull."""

    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path != "/api/v1/users":
            return httpx.Response(200, json=[])
        body = b'[{"id": "00u1", "status": "ACTIVE", "profile": {"login": "a@x.example"}, '
        return httpx.Response(200, content=body + b'"lastLogin": ' + last_login + b"}]")

    result = make("okta", httpx.MockTransport(handler), sleeps).people()
    assert result.error is not None and "malformed record" in str(result.error)
    assert "out of range" in str(result.error)
