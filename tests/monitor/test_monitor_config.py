"""monitor.yaml is checked as a whole: a wrong type or unknown key is one error naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ringfence.cli.app import app as cli_app
from ringfence.core.errors import ConfigError
from ringfence.monitor.wiring import build_monitor, configured_sinks, load_config
from ringfence.runtime import Runtime

# (case id, monitor.yaml text, what the one error says)
BAD_CONFIGS = [
    ("sinks-not-a-list", "sinks: 5\n", "sinks: Input should be a valid list"),
    ("sink-not-a-mapping", "sinks: [5]\n", "sinks[0]: Input should be a valid dictionary"),
    ("sink-without-type", "sinks: [{name: a}]\n", "sinks[0].type: Field required"),
    (
        "sink-unknown-type",
        "sinks: [{name: a, type: pager}]\n",
        "sinks[0].type: Input should be 'syslog', 'webhook', 'slack', 'splunk_hec' or 'email'",
    ),
    (
        "port-not-a-number",
        "sinks: [{name: s, type: syslog, host: h, port: x}]\n",
        "sinks[0].port: Input should be a valid integer",
    ),
    (
        "port-out-of-range",
        "sinks: [{name: s, type: syslog, host: h, port: 70000}]\n",
        "sinks[0].port: Input should be less than or equal to 65535",
    ),
    (
        "recipients-not-text",
        "sinks: [{name: m, type: email, host: h, from: a@x, to: 5}]\n",
        "sinks[0].to: Input should be a valid string or a valid list",
    ),
    (
        "misspelt-sink-key",
        "sinks: [{name: w, type: webhook, url: u, secret_evn: X}]\n",
        "sinks[0].secret_evn: unknown key",
    ),
    (
        "duplicate-sink-name",
        "sinks: [{name: w, type: webhook, url: u}, {name: w, type: slack, url: v}]\n",
        "sinks: two sinks are named 'w'",
    ),
    ("unknown-top-level-key", "sink: []\n", "sink: unknown key"),
    ("placeholders-not-lists", "placeholders: {roles: admin}\n", "placeholders.roles:"),
    ("ueba-not-a-mapping", "ueba: 5\n", "ueba: Input should be a valid dictionary"),
    ("ueba-value-as-text", "ueba: {z_threshold: '3'}\n", "ueba.z_threshold: Input should be"),
    ("suppression-as-text", "suppression_minutes: soon\n", "suppression_minutes: Input should"),
    ("retention-not-a-mapping", "retention_days: 5\n", "retention_days: Input should be"),
    ("rules-dirs-not-a-list", "rules_dirs: /etc/rules\n", "rules_dirs: Input should be a valid"),
    ("bundled-rules-as-text", "bundled_rules: 'no'\n", "bundled_rules: Input should be a valid"),
    (
        "misspelt-ueba-key",
        "ueba: {z_treshold: 3}\n",
        "unknown ueba settings: z_treshold (did you mean z_threshold?)",
    ),
    ("misspelt-apimon-key", "apimon: {windw: 30}\n", "unknown apimon settings: windw"),
    ("apimon-fraction-count", "apimon: {min_requests: 2.5}\n", "apimon.min_requests must be"),
    ("omap-with-duplicates", "sinks: !!omap [a: 1, a: 2]\n", "cannot read monitor config"),
    ("not-a-mapping", "- sinks\n", "must be a mapping"),
]


@pytest.mark.parametrize(
    ("text", "what"), [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS]
)
def test_bad_monitor_yaml_is_one_config_error_naming_the_key(
    tmp_path: Path, text: str, what: str
) -> None:
    (tmp_path / "monitor.yaml").write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path)
    assert exc.value.message.startswith(f"{tmp_path / 'monitor.yaml'}: ")
    assert what in exc.value.message


def test_every_consumer_gets_the_config_error(runtime: Runtime) -> None:
    (runtime.settings.data_dir / "monitor.yaml").write_text("sinks: 5\n")
    with pytest.raises(ConfigError, match="sinks: Input should be a valid list"):
        configured_sinks(runtime)
    with pytest.raises(ConfigError, match="sinks: Input should be a valid list"):
        build_monitor(runtime)


def test_whole_numbers_are_required_where_the_setting_counts(runtime: Runtime) -> None:
    (runtime.settings.data_dir / "monitor.yaml").write_text("ueba: {warmup_events: 7.5}\n")
    with pytest.raises(ConfigError, match=r"ueba\.warmup_events must be a whole number"):
        build_monitor(runtime)


@pytest.mark.parametrize("text", ["sinks: 5\n", "sinks: [{name: s, type: syslog, port: x}]\n"])
def test_monitor_deliver_with_a_bad_monitor_yaml_is_a_config_error(
    runtime: Runtime, text: str
) -> None:
    """The CLI renders a ConfigError as one red line; a TypeError was 'internal error'."""
    data = runtime.settings.data_dir
    (data / "monitor.yaml").write_text(text)
    res = CliRunner().invoke(cli_app, ["monitor", "deliver", "--data-dir", str(data)])
    assert res.exit_code != 0
    assert isinstance(res.exception, ConfigError), res.exception
    assert "monitor.yaml: sinks" in res.exception.message


@pytest.mark.parametrize(
    "command", [["monitor", "deliver"], ["monitor", "purge"], ["rules", "list"]]
)
def test_every_command_refuses_a_misspelt_analyser_setting(
    runtime: Runtime, command: list[str]
) -> None:
    """Session 13: a typo in ueba/apimon was caught only where the analysers are built."""
    data = runtime.settings.data_dir
    (data / "monitor.yaml").write_text("ueba: {warmup_dayz: 3}\n")
    res = CliRunner().invoke(cli_app, [*command, "--data-dir", str(data)])
    assert res.exit_code != 0
    assert isinstance(res.exception, ConfigError), res.exception
    assert "unknown ueba settings: warmup_dayz (did you mean warmup_days?)" in res.exception.message


def test_a_minimal_and_an_empty_monitor_yaml_are_accepted(tmp_path: Path) -> None:
    (tmp_path / "monitor.yaml").write_text("")
    assert load_config(tmp_path) == {}
    text = "sinks:\n  - {name: w, type: webhook, url: 'https://x.example/h', secret_env: K}\n"
    (tmp_path / "monitor.yaml").write_text(text)
    assert load_config(tmp_path)["sinks"][0]["name"] == "w"
