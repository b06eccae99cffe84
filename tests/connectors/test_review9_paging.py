"""Review 9, finding 4: no listing pages forever.

Slack ``team.integrationLogs`` (``paging.page/pages``) ignored ``max_pages`` and had no repeat
detection: a server answering ``pages = page + 1`` kept the pull going forever. It now stops
on an empty page, never goes past the page count the first page gave, and honours
``max_pages``; every other listing of every connector is held to ``max_pages`` too (at most
that many requests, then a ConnectorError that keeps the pages read).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from ringfence.connectors import Connector, ConnectorConfig, build_connector
from ringfence.core.errors import ValidationError
from tests.connectors.conftest import Sleeps

Reply = Callable[[httpx.Request, int], httpx.Response]


def make(vendor: str, reply: Reply, sent: list[httpx.Request], max_pages: int) -> Connector:
    def handler(req: httpx.Request) -> httpx.Response:
        sent.append(req)
        if len(sent) > 50:
            raise AssertionError("still paging after 50 requests")
        return reply(req, len(sent))

    cfg = ConnectorConfig(
        vendor=vendor,
        base_url="https://tenant.example",
        credential_ref="env:RF_TEST_SAAS_TOKEN",
        options={"org": "acme", "audit_base_url": "https://audit.tenant.example"},
        max_pages=max_pages,
        max_retries=0,
    )
    return build_connector(cfg, transport=httpx.MockTransport(handler), sleep=Sleeps())


def integration_logs(pages: Callable[[int], int], entries: int = 1) -> Reply:
    def reply(req: httpx.Request, n: int) -> httpx.Response:
        page = int(req.url.params["page"])
        logs = [
            {
                "app_id": f"A{page}",
                "user_id": "U1",
                "change_type": "added",
                "date": str(1_700_000_000 + page),
                "scope": "chat:write",
            }
        ] * entries
        body = {"ok": True, "logs": logs, "paging": {"page": page, "pages": pages(page)}}
        return httpx.Response(200, json=body)

    return reply


def test_slack_integration_logs_whose_page_count_keeps_growing_stop_at_the_first_count(
    fake_token: str,
) -> None:
    sent: list[httpx.Request] = []
    c = make("slack", integration_logs(lambda p: p + 1), sent, max_pages=5)
    result = c.grants()
    assert result.complete and result.pages == 2 and len(sent) == 2
    assert {g.client_id for g in result.items} == {"A1", "A2"}


def test_slack_integration_logs_stop_on_an_empty_page(fake_token: str) -> None:
    sent: list[httpx.Request] = []
    c = make("slack", integration_logs(lambda p: 1000, entries=0), sent, max_pages=5)
    result = c.grants()
    assert result.complete and len(sent) == 1


def test_slack_integration_logs_honour_max_pages(fake_token: str) -> None:
    sent: list[httpx.Request] = []
    c = make("slack", integration_logs(lambda p: 1000), sent, max_pages=3)
    result = c.grants()
    assert len(sent) == 3 and result.pages == 3
    assert result.error is not None and "more than 3 pages" in str(result.error)


def fresh_links(vendor: str) -> Reply:
    """Every answer is a full page pointing at a next page never seen before."""

    def reply(req: httpx.Request, n: int) -> httpx.Response:
        nxt = f"https://{req.url.host}/more?page={n + 1}"
        link = {"Link": f'<{nxt}>; rel="next"'}
        item: dict[str, Any] = {"id": str(n), "login": f"u{n}", "name": f"u{n}", "credential_id": n}
        if vendor == "okta":
            return httpx.Response(200, json=[{"id": str(n), "label": "A"}], headers=link)
        if vendor == "github":
            return httpx.Response(200, json=[item], headers=link)
        if vendor == "google_workspace":
            user = {"id": str(n), "primaryEmail": f"u{n}@x.example"}
            return httpx.Response(
                200, json={"kind": "k", "users": [user], "items": [], "nextPageToken": f"t{n}"}
            )
        if vendor == "microsoft365":
            value = [{"id": str(n), "appId": "x", "displayName": "X"}]
            return httpx.Response(200, json={"value": value, "@odata.nextLink": nxt})
        return httpx.Response(
            200,
            json={
                "ok": True,
                "members": [item],
                "entries": [{"id": n}],
                "response_metadata": {"next_cursor": f"c{n}"},
            },
        )

    return reply


LISTINGS: list[tuple[str, Callable[[Connector], Any]]] = [
    ("okta", lambda c: c.apps()),
    ("github", lambda c: c.grants()),
    ("google_workspace", lambda c: c.people()),
    ("microsoft365", lambda c: c.apps()),
    ("slack", lambda c: c.people()),
    ("slack", lambda c: c.audit_log(lambda page: None)),
    ("okta", lambda c: c.audit_log(lambda page: None)),
]


@pytest.mark.parametrize("vendor, listing", LISTINGS)
def test_every_listing_stops_after_max_pages_requests(
    vendor: str, listing: Callable[[Connector], Any], fake_token: str
) -> None:
    sent: list[httpx.Request] = []
    result = listing(make(vendor, fresh_links(vendor), sent, max_pages=3))
    assert len(sent) == 3 and result.pages == 3
    assert result.error is not None and "more than 3 pages" in str(result.error)


def test_max_pages_must_be_positive() -> None:
    with pytest.raises(ValidationError, match="max_pages must be >= 1"):
        ConnectorConfig(
            vendor="okta", base_url="https://x.example", credential_ref="env:X", max_pages=0
        )
