"""Settings come from RINGFENCE_* variables, then the settings file, then defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from ringfence.core.config import load_settings
from ringfence.core.errors import ConfigError
from ringfence.core.levels import DataClass


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.data_dir == Path(".ringfence")
    assert s.resolved_store_url.startswith("sqlite:///") and s.resolved_store_url.endswith(
        "ringfence.db"
    )
    assert s.redis_url is None and s.nats_url is None


def test_env_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("data_dir: /from/file\napi_port: 9000\n")
    monkeypatch.setenv("RINGFENCE_SETTINGS_FILE", str(f))
    monkeypatch.setenv("RINGFENCE_API_PORT", "9100")
    s = load_settings()
    assert s.data_dir == Path("/from/file") and s.api_port == 9100


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("data_dir: [unclosed", "cannot read settings file"),
        ("- a list\n", "must be a mapping"),
        ("api_port: lots\n", "api_port"),
        ("no_such_setting: 1\n", "no_such_setting"),
        ("store_url: mysql://x\n", "store_url"),
    ],
)
def test_bad_settings_file_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, message: str
) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(content)
    monkeypatch.setenv("RINGFENCE_SETTINGS_FILE", str(f))
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_data_class_order_and_parse() -> None:
    assert DataClass.PUBLIC < DataClass.INTERNAL < DataClass.CONFIDENTIAL < DataClass.RESTRICTED
    assert DataClass.parse("Restricted") is DataClass.RESTRICTED
    assert DataClass.parse(2) is DataClass.CONFIDENTIAL
    with pytest.raises(Exception, match="expected one of"):
        DataClass.parse("secret")
    with pytest.raises(Exception, match="expected one of"):
        DataClass.parse(True)  # type: ignore[arg-type]


def test_settings_file_errors_never_echo_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "s.yaml"
    f.write_text('store_url: "postgresql+psycopg://rf:Sup3rS3cret@db/rf\nbroken: [\n')
    monkeypatch.setenv("RINGFENCE_SETTINGS_FILE", str(f))
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "Sup3rS3cret" not in str(info.value)
    assert "cannot read settings file" in str(info.value)
