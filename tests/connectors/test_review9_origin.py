"""Review 9, finding 1: a next-page link goes nowhere but the client's own origin.

Every URL is resolved against the client's base URL and compared as scheme + host + port
(httpx lower-cases scheme and host and drops default ports); an upper-case scheme, another
host, another port, a downgrade to http, another scheme or userinfo is refused before the
credential is sent.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from ringfence.connectors import Connector, ConnectorConfig, build_connector
from tests.connectors.conftest import Sleeps

Handler = Callable[[httpx.Request], httpx.Response]


def make(vendor: str, handler: Handler, base: str, sleeps: Sleeps, **options: str) -> Connector:
    cfg = ConnectorConfig(
        vendor=vendor,
        base_url=base,
        credential_ref="env:RF_TEST_SAAS_TOKEN",
        options=options,
        page_size=2,
        max_retries=1,
    )
    return build_connector(cfg, transport=httpx.MockTransport(handler), sleep=sleeps)


def first_page(vendor: str, nxt: str) -> httpx.Response:
    """The first page of the apps listing of ``vendor``, pointing at ``nxt`` for more."""
    if vendor == "okta":
        return httpx.Response(
            200, json=[{"id": "0oa1", "label": "A"}], headers={"Link": f'<{nxt}>; rel="next"'}
        )
    if vendor == "github":
        return httpx.Response(
            200,
            json={"installations": [{"id": 1, "app_id": 2, "app_slug": "a"}]},
            headers={"Link": f'<{nxt}>; rel="next"'},
        )
    return httpx.Response(
        200,
        json={"value": [{"id": "1", "appId": "x", "displayName": "X"}], "@odata.nextLink": nxt},
    )


HOSTILE = [
    # (base URL, next link, what the refusal says)
    ("http://127.0.0.1:18801", "HTTP://localhost:18802/steal?after=x", "foreign host localhost"),
    ("https://tenant.example", "HTTPS://evil.example/steal", "foreign host evil.example"),
    ("https://tenant.example", "HtTp://evil.example/steal", "foreign host evil.example"),
    ("https://tenant.example", "HTTP://tenant.example/next?page=2", "http link to tenant.example"),
    ("https://tenant.example", "http://tenant.example/next?page=2", "http link to tenant.example"),
    ("https://tenant.example", "https://tenant.example:8443/next", "port 8443"),
    ("https://tenant.example", "https://user:pw@tenant.example/next", "userinfo"),
    ("https://tenant.example", "ftp://tenant.example/next", "ftp link"),
    ("https://tenant.example", "https://evil.example\\@tenant.example/", "userinfo"),
]


@pytest.mark.parametrize("vendor", ["okta", "github", "microsoft365"])
@pytest.mark.parametrize("base, nxt, message", HOSTILE)
def test_next_link_outside_the_api_origin_is_refused_before_the_token_is_sent(
    vendor: str, base: str, nxt: str, message: str, sleeps: Sleeps, fake_token: str
) -> None:
    sent: list[httpx.URL] = []

    def handler(req: httpx.Request) -> httpx.Response:
        sent.append(req.url)
        if len(sent) > 1:  # only the next link would get here
            return first_page(vendor, "")
        return first_page(vendor, nxt)

    c = make(vendor, handler, base, sleeps, org="acme")
    result = c.apps()
    assert len(sent) == 1, f"the token went to {sent[1]}"
    assert result.error is not None and message in str(result.error)
    assert "refusing" in str(result.error) and fake_token not in str(result.error)
    assert len(result.items) == 1  # the first page is kept


@pytest.mark.parametrize("vendor", ["okta", "microsoft365"])
@pytest.mark.parametrize(
    "nxt",
    [
        "HTTPS://TENANT.example/page2",  # case differs only
        "https://tenant.example:443/page2",  # explicit default port
        "/page2",  # relative
    ],
)
def test_next_link_on_the_same_origin_is_followed(
    vendor: str, nxt: str, sleeps: Sleeps, fake_token: str
) -> None:
    sent: list[httpx.URL] = []

    def handler(req: httpx.Request) -> httpx.Response:
        sent.append(req.url)
        if req.url.path.endswith("page2"):
            if vendor == "okta":
                return httpx.Response(200, json=[{"id": "0oa2", "label": "B"}])
            return httpx.Response(200, json={"value": [{"id": "2", "appId": "y"}]})
        return first_page(vendor, nxt)

    result = make(vendor, handler, "https://tenant.example", sleeps).apps()
    assert result.complete and len(result.items) == 2
    assert [(u.scheme, u.host, u.port) for u in sent] == [("https", "tenant.example", None)] * 2


def test_an_unusable_link_is_a_malformed_response(sleeps: Sleeps, fake_token: str) -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        return first_page("microsoft365", "https://tenant.example/\x00x")

    result = make("microsoft365", handler, "https://tenant.example", sleeps).apps()
    assert result.error is not None and "malformed response" in str(result.error)
