"""The shared connector base through httpx.MockTransport: rate-limit signals, backoff caps,
foreign pagination links, plaintext URLs, credential references, config files."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from ringfence.connectors import (
    ConnectorConfig,
    ConnectorError,
    build_connector,
    load_connector_configs,
    resolve_credential,
)
from ringfence.connectors._base import epoch_delay, parse_retry_after, parse_time
from ringfence.core.clock import FixedClock
from ringfence.core.errors import ValidationError
from tests.connectors.conftest import Sleeps

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class Secrets:
    def get(self, name: str) -> SecretStr:
        if name != "okta-token":
            raise KeyError(name)
        return SecretStr("s3cr3t")


def connector(
    vendor: str,
    handler: Callable[[httpx.Request], httpx.Response],
    sleeps: Sleeps,
    base: str = "https://tenant.example",
    **options: str,
):  # type: ignore[no-untyped-def]
    cfg = ConnectorConfig(
        vendor=vendor,
        base_url=base,
        credential_ref="vault:okta-token",
        options=options,
        page_size=2,
        max_retries=2,
        max_wait=30,
    )
    return build_connector(
        cfg,
        secrets=Secrets(),
        transport=httpx.MockTransport(handler),
        clock=FixedClock(NOW),
        sleep=sleeps,
    )


def test_credential_is_sent_with_the_vendor_scheme_and_never_in_errors(sleeps: Sleeps) -> None:
    seen: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req.headers["authorization"])
        return httpx.Response(500, json={"errorSummary": "boom"})

    c = connector("okta", handler, sleeps)
    result = c.apps()
    assert seen[0] == "SSWS s3cr3t" and len(seen) == 3
    assert result.error is not None and "s3cr3t" not in str(result.error)
    assert "boom" in str(result.error) and sleeps == [0.5, 1.0]


def test_okta_waits_until_rate_limit_reset(sleeps: Sleeps) -> None:
    calls = iter(
        [
            httpx.Response(
                429,
                headers={"X-Rate-Limit-Reset": str(int(NOW.timestamp()) + 7)},
                json={"errorCode": "E0000047"},
            ),
            httpx.Response(200, json=[{"id": "0oa1", "label": "App", "status": "ACTIVE"}]),
        ]
    )
    c = connector("okta", lambda req: next(calls), sleeps)
    assert c.apps().complete and sleeps == [7.0]


def test_okta_pauses_before_the_next_call_when_the_quota_is_spent(sleeps: Sleeps) -> None:
    reset = str(int(NOW.timestamp()) + 5)

    def handler(req: httpx.Request) -> httpx.Response:
        if "after" not in str(req.url):
            return httpx.Response(
                200,
                json=[{"id": "a", "label": "A"}],
                headers={
                    "X-Rate-Limit-Remaining": "0",
                    "X-Rate-Limit-Reset": reset,
                    "Link": '<https://tenant.example/api/v1/apps?after=a>; rel="next"',
                },
            )
        return httpx.Response(200, json=[{"id": "b", "label": "B"}])

    c = connector("okta", handler, sleeps)
    assert len(c.apps().items) == 2 and sleeps == [5.0]


def test_github_secondary_limit_uses_retry_after_http_date(sleeps: Sleeps) -> None:
    calls = iter(
        [
            httpx.Response(
                403,
                headers={"Retry-After": "Thu, 01 Jan 2026 00:00:12 GMT"},
                json={"message": "secondary rate limit"},
            ),
            httpx.Response(200, json={"total_count": 0, "installations": []}),
        ]
    )
    c = connector("github", lambda req: next(calls), sleeps, org="acme")
    assert c.apps().complete and sleeps == [12.0]


def test_github_plain_403_is_not_retried(sleeps: Sleeps) -> None:
    c = connector(
        "github",
        lambda req: httpx.Response(403, json={"message": "Must have admin"}),
        sleeps,
        org="acme",
    )
    result = c.apps()
    assert result.error is not None and result.error.http_status == 403 and sleeps == []


def test_rate_limit_longer_than_max_wait_gives_up_clearly(sleeps: Sleeps) -> None:
    c = connector(
        "microsoft365",
        lambda req: httpx.Response(
            429, headers={"Retry-After": "3600"}, json={"error": {"code": "TooManyRequests"}}
        ),
        sleeps,
    )
    result = c.apps()
    assert result.error is not None and "longer than max_wait" in str(result.error)
    assert sleeps == []


def test_pagination_link_to_a_foreign_host_is_refused(sleeps: Sleeps) -> None:
    hosts: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        hosts.append(req.url.host)
        return httpx.Response(
            200,
            json={
                "value": [{"id": "1", "appId": "x", "displayName": "X"}],
                "@odata.nextLink": "https://evil.example/steal",
            },
        )

    c = connector("microsoft365", handler, sleeps)
    result = c.apps()
    assert result.error is not None and "foreign host evil.example" in str(result.error)
    assert hosts == ["tenant.example"] and len(result.items) == 1


def test_slack_ok_false_is_an_error_even_with_http_200(sleeps: Sleeps) -> None:
    c = connector(
        "slack", lambda req: httpx.Response(200, json={"ok": False, "error": "not_allowed"}), sleeps
    )
    result = c.people()
    assert result.error is not None and "not_allowed" in str(result.error)


def test_transport_errors_are_retried_then_reported(sleeps: Sleeps) -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=req)

    c = connector("okta", handler, sleeps)
    result = c.apps()
    assert result.error is not None and "unreachable after 3 attempts (ConnectError)" in str(
        result.error
    )


def test_redirects_are_not_followed(sleeps: Sleeps) -> None:
    c = connector(
        "okta",
        lambda req: httpx.Response(302, headers={"Location": "https://evil.example/"}),
        sleeps,
    )
    result = c.apps()
    assert result.error is not None and "redirect" in str(result.error)


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://tenant.example", "plaintext"),
        ("ftp://tenant.example", r"not an http\(s\) URL"),
        ("https://", r"not an http\(s\) URL"),
    ],
)
def test_bad_base_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ConnectorConfig(vendor="okta", base_url=url, credential_ref="env:X")


def test_loopback_http_is_allowed_for_fakes() -> None:
    ConnectorConfig(vendor="okta", base_url="http://127.0.0.1:8080", credential_ref="env:X")


@pytest.mark.parametrize(
    "ref, message",
    [
        ("okta-token", "must look like"),
        ("file:/etc/passwd", "scheme must be"),
        ("env:RF_DEFINITELY_UNSET", "unset"),
    ],
)
def test_bad_credential_references(ref: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        resolve_credential(ref, None)


def test_vault_reference_needs_the_vault() -> None:
    with pytest.raises(ValidationError, match="needs the vault"):
        resolve_credential("vault:okta-token", None)
    assert resolve_credential("vault:okta-token", Secrets()) == "s3cr3t"


def test_unknown_vendor_is_refused() -> None:
    cfg = ConnectorConfig(vendor="dropbox", base_url="https://x.example", credential_ref="env:X")
    with pytest.raises(ValidationError, match="unknown connector vendor"):
        build_connector(cfg)


def test_connector_config_file_errors_name_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("connectors:\n  - vendor: okta\n    base_url: https://x.example\n")
    with pytest.raises(ValidationError, match=r"connectors\[0\]: missing credential"):
        load_connector_configs(path)
    path.write_text("connectors:\n  - {vendor: box, base_url: 'https://x', credential: env:X}\n")
    with pytest.raises(ValidationError, match="unknown vendor 'box'"):
        load_connector_configs(path)
    path.write_text("nothing: here\n")
    with pytest.raises(ValidationError, match="top-level 'connectors:'"):
        load_connector_configs(path)
    path.write_text(
        "connectors:\n  - vendor: github\n    base_url: https://x.example\n"
        "    credential: env:X\n    options: {org: a}\n"
    )
    [cfg] = load_connector_configs(path)
    assert cfg.options == {"org": "a"}


def test_time_and_retry_header_parsing() -> None:
    assert parse_retry_after("17", NOW) == 17.0
    assert parse_retry_after("soon", NOW) is None
    assert epoch_delay(str(int(NOW.timestamp()) - 5), NOW) == 0.0
    assert epoch_delay("x", NOW) is None
    assert parse_time("2026-01-01T00:00:00Z") == NOW
    assert parse_time(1767225600000) == NOW  # epoch milliseconds (GitHub audit log)
    assert parse_time("1767225600") == NOW
    with pytest.raises(ValueError):
        parse_time(["nope"])


def test_connector_error_is_rendered_as_problem_json() -> None:
    err = ConnectorError("boom", vendor="okta", operation="list apps", http_status=500)
    problem = err.to_problem()
    assert problem["status"] == 502 and problem["vendor"] == "okta"
    assert problem["detail"] == "okta list apps: boom"


def test_a_pagination_loop_is_stopped(sleeps: Sleeps) -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "value": [{"id": "1", "appId": "x", "displayName": "X"}],
                "@odata.nextLink": "https://tenant.example/servicePrincipals?$skiptoken=again",
            },
        )

    c = connector("microsoft365", handler, sleeps)
    result = c.apps()
    assert result.error is not None and "repeats a previous page" in str(result.error)
    assert result.pages == 2


def test_slack_cursor_loop_is_stopped(sleeps: Sleeps) -> None:
    c = connector(
        "slack",
        lambda req: httpx.Response(
            200, json={"ok": True, "members": [], "response_metadata": {"next_cursor": "same"}}
        ),
        sleeps,
    )
    result = c.people()
    assert result.error is not None and "repeats" in str(result.error)


def test_oversized_response_is_refused(sleeps: Sleeps) -> None:
    cfg = ConnectorConfig(
        vendor="okta",
        base_url="https://tenant.example",
        credential_ref="vault:okta-token",
        max_body_bytes=1000,
    )
    big = b"[" + b",".join(b'{"id": "x%d", "label": "A"}' % i for i in range(200)) + b"]"
    c = build_connector(
        cfg,
        secrets=Secrets(),
        sleep=sleeps,
        transport=httpx.MockTransport(lambda req: httpx.Response(200, content=big)),
    )
    result = c.apps()
    assert result.error is not None and "exceeds 1000" in str(result.error)
