"""Review 9: a Slack webhook URL (a credential) comes from the environment or the vault;
a literal hooks.slack.com URL in monitor.yaml is refused."""

from __future__ import annotations

import pytest

from ringfence.core.errors import ConfigError
from ringfence.monitor.sinks import WebhookSink, build_sinks
from ringfence.monitor.wiring import configured_sinks
from ringfence.runtime import Runtime

HOOK = "https://hooks.slack.com/services/T0000/B0000/abcdefabcdefabcdef"


def test_slack_url_from_env_and_vault(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RF_SLACK_WEBHOOK", HOOK)
    runtime.vault.put("slack/webhook", HOOK + "2")
    (runtime.settings.data_dir / "monitor.yaml").write_text(
        "sinks:\n"
        "  - {name: chat, type: slack, url_env: RF_SLACK_WEBHOOK}\n"
        "  - {name: chat2, type: slack, url_vault: slack/webhook}\n"
    )
    sinks = configured_sinks(runtime)
    assert isinstance(sinks["chat"], WebhookSink) and sinks["chat"].slack
    assert sinks["chat"].url == HOOK
    assert isinstance(sinks["chat2"], WebhookSink) and sinks["chat2"].url == HOOK + "2"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"url": HOOK}, r"Slack webhook URL is a credential.*url_env.*url_vault"),
        ({"url": "https://HOOKS.slack.com/services/x"}, "is a credential"),
        ({"url": "https://x.slack-gov.com/services/x"}, "is a credential"),
        ({}, "exactly one of url, url_env, url_vault"),
        ({"url": HOOK, "url_env": "X"}, "exactly one of"),
        ({"url_env": "RF_NOT_SET_ANYWHERE"}, "RF_NOT_SET_ANYWHERE is not set"),
    ],
)
def test_bad_slack_url_settings_are_refused(spec: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_sinks([{"name": "chat", "type": "slack", **spec}])


def test_other_webhooks_keep_a_literal_url() -> None:
    (sink,) = build_sinks(
        [{"name": "s", "type": "webhook", "url": "https://soar.example/h"}]
    ).values()
    assert isinstance(sink, WebhookSink) and sink.url == "https://soar.example/h"
    (chat,) = build_sinks(
        [{"name": "m", "type": "slack", "url": "https://chat.example/hooks/x"}]
    ).values()
    assert isinstance(chat, WebhookSink) and chat.slack  # a Slack-compatible server elsewhere
