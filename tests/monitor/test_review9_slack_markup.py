"""Review 9: sender-controlled text in an alert is not Slack markup (mentions, links)."""

from __future__ import annotations

import orjson

from ringfence.core.clock import FixedClock
from ringfence.monitor.alerts import AlertStore, Finding
from ringfence.monitor.sinks import WebhookSink, slack_escape
from ringfence.runtime import Runtime
from tests.monitor.test_sinks import _Http, http  # noqa: F401 (fixture)

UA = "<!channel> <https://evil.example/sso|Re-authenticate here> & <@U0ADMIN>"


def test_slack_text_escapes_mentions_and_links(
    runtime: Runtime,
    clock: FixedClock,
    http: _Http,  # noqa: F811
) -> None:
    sentence = f"crm-sync used a new user agent {UA}; 3 known in 30 days"
    f = Finding(
        "ueba:new_user_agent", "New user agent", "medium", "ueba", "crm-sync", sentence, clock.now()
    )
    (a,) = AlertStore(runtime.store, clock).raise_findings([f])
    url = f"http://127.0.0.1:{http.server_address[1]}/slack"
    WebhookSink("chat", url, slack=True).send(a.finding)
    (_path, _headers, body) = http.requests[0]
    doc = orjson.loads(body)
    text = doc["text"]
    assert "<" not in text and ">" not in text
    assert "&lt;!channel&gt; &lt;https://evil.example/sso|Re-authenticate here&gt; &amp;" in text
    assert doc["unfurl_links"] is False and doc["unfurl_media"] is False


def test_slack_escape_is_slacks_three_entities() -> None:
    assert slack_escape("a & b < c > d") == "a &amp; b &lt; c &gt; d"
    assert slack_escape("&lt;") == "&amp;lt;"  # escaped once, not taken as already escaped
