"""Session 13: connectors.yaml is strict, and a credential reference may not name Ringfence's
own configuration.

A misspelt key (``pagesize``), an option no connector reads (``bogus``) or a misspelt one
(``acton_credential_ref``: GitHub's suspend action silently ran on the read credential) was
ignored; now each is an error naming the file, the entry and the close match. And
``env:RINGFENCE_MASTER_KEY`` (or a reserved vault name) was accepted as a connector credential:
its value would go to ``base_url`` — which the file's author chooses — as the Authorization
header. The rest of the product refuses those references (core.secretrefs); so do connectors.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ringfence.cli import main
from ringfence.connectors import ConnectorConfig, load_connector_configs, resolve_credential
from ringfence.core.errors import ValidationError

GOOD = "connectors:\n  - vendor: github\n    base_url: https://api.github.com\n"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "connectors.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("extra", "named", "hint"),
    [
        ("    pagesize: 50\n", "unknown key 'pagesize'", "did you mean 'page_size'"),
        ("    credentials: env:Y\n", "unknown key 'credentials'", "did you mean 'credential'"),
        ("    options: {org: a, bogus: 1}\n", "unknown option 'bogus'", "expected: "),
        (
            "    options: {org: a, acton_credential_ref: vault:gh-jwt}\n",
            "unknown option 'acton_credential_ref'",
            "did you mean 'action_credential_ref'",
        ),
    ],
)
def test_unknown_keys_and_options_are_named_with_the_file(
    tmp_path: Path, extra: str, named: str, hint: str
) -> None:
    path = _write(tmp_path, GOOD + "    credential: env:GH_TOKEN\n" + extra)
    with pytest.raises(ValidationError) as err:
        load_connector_configs(path)
    message = str(err.value)
    assert named in message and hint in message
    assert str(path) in message and "connectors[0]" in message


def test_an_option_of_another_vendor_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "connectors:\n  - {vendor: okta, base_url: 'https://x.okta.com', credential: env:T,"
        " options: {org: a}}\n",
    )
    with pytest.raises(ValidationError, match=r"\(okta\): unknown option 'org'; expected: none"):
        load_connector_configs(path)


def test_an_unknown_top_level_key_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD + "    credential: env:GH_TOKEN\nconector: {}\n")
    with pytest.raises(ValidationError, match="unknown top-level key 'conector'"):
        load_connector_configs(path)


@pytest.mark.parametrize(
    ("value", "named"), [("", "not empty"), ("[a, b]", "not list"), ("true", "not bool")]
)
def test_an_option_value_must_be_a_string(tmp_path: Path, value: str, named: str) -> None:
    path = _write(tmp_path, GOOD + f"    credential: env:GH_TOKEN\n    options: {{org: {value}}}\n")
    with pytest.raises(ValidationError, match=f"option 'org' must be a string, {named}"):
        load_connector_configs(path)


def test_page_size_must_be_an_integer(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD + "    credential: env:GH_TOKEN\n    page_size: many\n")
    with pytest.raises(ValidationError, match="page_size must be an integer"):
        load_connector_configs(path)


def test_known_keys_and_options_still_load(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        GOOD + "    credential: env:GH_TOKEN\n    page_size: 50\n"
        "    options: {org: a, action_credential_ref: vault:gh-jwt}\n",
    )
    [cfg] = load_connector_configs(path)
    assert cfg.page_size == 50 and cfg.options["action_credential_ref"] == "vault:gh-jwt"


def test_the_cli_exits_non_zero_with_one_line_and_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, GOOD + "    credential: env:GH_TOKEN\n    pagesize: 50\n")
    with pytest.raises(SystemExit) as exc:
        main(["connectors", "audit", "-c", str(path), "--data-dir", str(tmp_path / "d")])
    assert exc.value.code == 1
    out, err = capsys.readouterr()
    assert "unknown key 'pagesize'" in err + out
    assert "Traceback" not in err + out


@pytest.mark.parametrize(
    "ref",
    [
        "env:RINGFENCE_MASTER_KEY",
        "env:ringfence_store_url",
        "vault:identity/totp/alice",
        "vault:gateway/signing/current",
    ],
)
def test_references_to_ringfences_own_secrets_are_refused(
    ref: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RINGFENCE_MASTER_KEY", "the-master-key")
    with pytest.raises(ValidationError, match="Ringfence's own") as err:
        resolve_credential(ref, None)
    assert err.value.code == "reserved_secret"
    assert "the-master-key" not in str(err.value)
    with pytest.raises(ValidationError, match="Ringfence's own"):
        ConnectorConfig(vendor="okta", base_url="https://x.okta.com", credential_ref=ref)


def test_an_own_secret_in_the_file_is_a_config_error_naming_the_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RINGFENCE_MASTER_KEY", "the-master-key")
    path = _write(tmp_path, GOOD + "    credential: env:RINGFENCE_MASTER_KEY\n")
    with pytest.raises(ValidationError, match=r"connectors\[0\]: github: credential"):
        load_connector_configs(path)
    path = _write(
        tmp_path,
        GOOD + "    credential: env:GH_TOKEN\n"
        "    options: {org: a, action_credential_ref: 'env:RINGFENCE_MASTER_KEY'}\n",
    )
    with pytest.raises(ValidationError, match="option action_credential_ref"):
        load_connector_configs(path)
    with pytest.raises(SystemExit) as exc:
        main(["connectors", "audit", "-c", str(path), "--data-dir", str(tmp_path / "d")])
    assert exc.value.code == 1
    out, err = capsys.readouterr()
    assert "Ringfence's own" in err + out and "the-master-key" not in err + out


def test_a_pasted_secret_is_not_echoed_as_a_reference() -> None:
    with pytest.raises(ValidationError, match="must look like") as err:
        resolve_credential("00aBcD-live-token-value", None)
    assert "live-token" not in str(err.value)
