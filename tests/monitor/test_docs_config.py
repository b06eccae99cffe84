"""The monitor.yaml documented in docs/monitoring.md is accepted as written (docs stay true)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ringfence.monitor.wiring import build_monitor, configured_sinks
from ringfence.runtime import Runtime

DOC = Path(__file__).resolve().parents[2] / "docs" / "monitoring.md"


def test_the_documented_monitor_yaml_is_accepted(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S) if "sinks:" in b]
    assert blocks, "docs/monitoring.md lost its monitor.yaml example"
    monkeypatch.setenv("RF_HOOK_KEY", "hook-key")
    monkeypatch.setenv("RF_SMTP_PASSWORD", "smtp-password")
    monkeypatch.setenv("RF_SLACK_WEBHOOK", "https://hooks.slack.com/services/T0/B0/x")
    runtime.vault.put("splunk/hec", "hec-token")
    text = blocks[0].replace("/etc/ringfence/rules", str(tmp_path))  # an existing rules dir
    (runtime.settings.data_dir / "monitor.yaml").write_text(text)
    sinks = configured_sinks(runtime)
    assert {type(s).__name__ for s in sinks.values()} == {
        "SyslogSink",
        "WebhookSink",
        "SplunkHecSink",
        "EmailSink",
    }
    build_monitor(runtime)  # every other documented section parses too
