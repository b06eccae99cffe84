"""The demo's SIEM and mail stand-ins: real loopback servers the playbooks' sinks deliver to."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr
from ruamel.yaml import YAML

from ringfence.demo.receivers import Receivers
from ringfence.monitor.sinks import EmailSink, SinkError, WebhookSink, build_sinks, sign


class _Vault:
    def __init__(self, secrets: dict[str, str]) -> None:
        self._secrets = secrets

    def get(self, ref: str) -> SecretStr:
        return SecretStr(self._secrets[ref])


FINDING = {
    "severity": "High",
    "message": "Incident 1: crm-sync quarantined",
    "finding_info": {"title": "playbook contain-integration"},
}


def test_the_demo_sinks_deliver_to_the_stand_ins() -> None:
    key = "k" * 32
    receivers = Receivers(SecretStr(key)).start()
    try:
        cfg = YAML(typ="safe").load(receivers.monitor_yaml("demo/hook", "sec@northwind.example"))
        sinks = build_sinks(cfg["sinks"], _Vault({"demo/hook": key}))
        assert isinstance(sinks["secops"], WebhookSink)
        assert isinstance(sinks["vendor-mail"], EmailSink)
        sinks["secops"].send(FINDING)
        sinks["vendor-mail"].send(FINDING)
        got = httpx.get(f"{receivers.url}/received").json()
        (hook,) = got["webhooks"]
        assert hook["signature"] == "verified" and hook["title"] == FINDING["finding_info"]["title"]
        (mail,) = got["mails"]
        assert mail["to"] == ["sec@northwind.example"] and "[Ringfence HIGH]" in mail["subject"]
        # A webhook signed with another key, or not at all, is refused and not recorded.
        forged = WebhookSink("forged", f"{receivers.url}/hook", SecretStr("other-key"))
        with pytest.raises(SinkError):
            forged.send(FINDING)
        unsigned = httpx.post(f"{receivers.url}/hook", json=FINDING)
        assert unsigned.status_code == 401
        odd = {
            "X-Ringfence-Timestamp": b"1",
            "X-Ringfence-Signature": "sha256=\u00e9".encode("latin-1"),
        }
        assert httpx.post(f"{receivers.url}/hook", json=FINDING, headers=odd).status_code == 401
        # A correctly signed but old notice (a replay) is refused too.
        old_ts = "1700000000"
        body = b"{}"
        replay = {
            "X-Ringfence-Timestamp": old_ts,
            "X-Ringfence-Signature": sign(SecretStr(key), old_ts, body),
            "Content-Type": "application/json",
        }
        assert httpx.post(f"{receivers.url}/hook", content=body, headers=replay).status_code == 401
        assert len(httpx.get(f"{receivers.url}/received").json()["webhooks"]) == 1
    finally:
        receivers.stop()
