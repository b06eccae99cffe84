"""Review 9, finding 6: every API host a credential goes to follows the base_url rule.

Slack's ``audit_base_url`` and ``scim_base_url`` could be plain http to any host (the token
went out in clear text, or anywhere); they are now held, at config load and again when the
second client is made, to the rule ``base_url`` always had: https, plain http only for a
loopback test server, a host, no userinfo.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ringfence.connectors import (
    ConnectorConfig,
    DiscoveredPerson,
    build_connector,
    load_connector_configs,
)
from ringfence.core.errors import ValidationError
from tests.connectors.conftest import Sleeps


def slack_yaml(tmp_path: Path, option: str, url: str) -> Path:
    path = tmp_path / "connectors.yaml"
    path.write_text(
        "connectors:\n"
        "  - vendor: slack\n"
        "    base_url: https://slack.com/api\n"
        "    credential: env:RF_TEST_SAAS_TOKEN\n"
        f"    options: {{{option}: '{url}', team_id: T1}}\n"
    )
    return path


@pytest.mark.parametrize("option", ["audit_base_url", "scim_base_url"])
@pytest.mark.parametrize(
    "url, message",
    [
        ("http://evil.example/audit/v1", "plaintext http"),
        ("HTTP://api.slack.com/scim/v2", "plaintext http"),
        ("ftp://api.slack.com/audit/v1", r"not an http\(s\) URL"),
        ("https://", r"not an http\(s\) URL"),
        ("https://user:hunter2@api.slack.com/scim/v2", "must not carry credentials"),
    ],
)
def test_a_slack_extra_api_url_is_held_to_the_base_url_rule_at_load(
    tmp_path: Path, option: str, url: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as err:
        load_connector_configs(slack_yaml(tmp_path, option, url))
    assert option in str(err.value) and "hunter2" not in str(err.value)


def test_loopback_http_extra_urls_stay_allowed_for_fakes(tmp_path: Path) -> None:
    [cfg] = load_connector_configs(slack_yaml(tmp_path, "audit_base_url", "http://127.0.0.1:9/a"))
    assert cfg.options["audit_base_url"] == "http://127.0.0.1:9/a"


def test_base_url_with_userinfo_is_refused() -> None:
    with pytest.raises(ValidationError, match="must not carry credentials"):
        ConnectorConfig(vendor="okta", base_url="https://a:b@x.example", credential_ref="env:X")


@pytest.mark.parametrize("action", ["audit", "deactivate"])
def test_the_second_client_checks_its_url_too(action: str, sleeps: Sleeps, fake_token: str) -> None:
    """Options changed after load (the mapping is a plain dict) are still checked."""
    sent: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        sent.append(req)
        return httpx.Response(200, json={"ok": True, "entries": []})

    options = {"team_id": "T1"}
    cfg = ConnectorConfig(
        vendor="slack",
        base_url="https://slack.example/api",
        credential_ref="env:RF_TEST_SAAS_TOKEN",
        options=options,
    )
    c = build_connector(cfg, transport=httpx.MockTransport(handler), sleep=sleeps)
    options["audit_base_url"] = "http://evil.example/audit/v1"
    options["scim_base_url"] = "http://evil.example/scim/v2"
    with pytest.raises(ValidationError, match="plaintext http"):
        if action == "audit":
            c.audit_log(lambda page: None)
        else:
            c.deactivate_person(DiscoveredPerson(vendor="slack", external_id="U1", login="u"))
    assert sent == []
