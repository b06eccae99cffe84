"""The SaaS connectors' tokens (connectors.yaml) are rotated like credentials (session 14).

A connector authenticates with an admin-grade token of the SaaS tenant (Okta API token, a
GitHub App's or PAT's token, Microsoft client secret). 6b883b8 aged the SSO client secret and
the monitor sinks' tokens; the connectors' were still aged by nothing: RF-CRD-001/003 now see
each ``vault:NAME`` a connector reads (``credential`` and the ``*_credential_ref`` options) as
``connector:<vendor>:<key>``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from ringfence.core.clock import FixedClock
from ringfence.core.errors import ConfigError
from ringfence.posture import run_checks
from ringfence.posture.loader import load_context
from ringfence.runtime import Runtime
from ringfence.store.models import App, Credential, CredentialKind, Integration, Vendor
from tests.posture.test_cli import run

SSO_VAR = "RINGFENCE_IDENTITY_OIDC_CLIENT_SECRET_REF"
CONNECTORS = """\
connectors:
  - vendor: okta
    base_url: https://northwind.okta.example
    credential: vault:okta/admin-token
  - vendor: github
    base_url: https://api.github.example
    credential: env:RF_GITHUB_READ_TOKEN
    options: {org: northwind, action_credential_ref: vault:github/actions-token}
"""
OKTA = "connector:okta:credential"
GITHUB = "connector:github:action_credential_ref"


@pytest.fixture
def connectors(runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(SSO_VAR, raising=False)
    runtime.vault.put("okta/admin-token", "not-a-real-token-1")
    runtime.vault.put("github/actions-token", "not-a-real-token-2")
    path = tmp_path / "connectors.yaml"
    path.write_text(CONNECTORS, encoding="utf-8")
    return path


def _report(rt: Runtime, days: int, path: Path, ids: list[str]) -> dict[str, dict[str, object]]:
    with rt.store.session() as s:
        ctx = load_context(s, rt.clock.now() + timedelta(days=days), connectors_file=path)
    return {
        r.meta.id: {f.resource_id: f for f in r.failures} for r in run_checks(ctx, only=ids).results
    }


def test_connector_tokens_never_rotated_are_reported(runtime: Runtime, connectors: Path) -> None:
    report = _report(runtime, 200, connectors, ["RF-CRD-001", "RF-CRD-003"])
    for check_id in ("RF-CRD-001", "RF-CRD-003"):
        # The GitHub read token is an env: reference: Ringfence never sees its value.
        assert set(report[check_id]) == {OKTA, GITHUB}, check_id
    okta = report["RF-CRD-003"][OKTA]
    assert "never rotated in 200 days" in okta.message  # type: ignore[attr-defined]
    assert "connectors.yaml connector 'okta' (credential)" in okta.message  # type: ignore[attr-defined]
    assert "vault:okta/admin-token version 1" in okta.evidence["evidenced_by"]  # type: ignore[attr-defined]
    github = report["RF-CRD-001"][GITHUB]
    assert "connector 'github' (options.action_credential_ref)" in github.message  # type: ignore[attr-defined]
    assert github.evidence["used_by"].startswith("connectors.yaml")  # type: ignore[attr-defined]


def test_a_new_vault_version_is_the_rotation(
    runtime: Runtime, connectors: Path, clock: FixedClock
) -> None:
    clock.advance(days=150)
    runtime.vault.put("okta/admin-token", "not-a-real-token-3")  # rotated
    report = _report(runtime, 50, connectors, ["RF-CRD-001", "RF-CRD-003"])
    assert set(report["RF-CRD-003"]) == {GITHUB}
    assert set(report["RF-CRD-001"]) == {GITHUB}  # okta: 50 days old


def test_an_integration_sharing_a_connector_token_is_reported_once(
    runtime: Runtime, connectors: Path
) -> None:
    with runtime.store.session() as s:
        vendor = Vendor(name="Okta")
        s.add(vendor)
        s.flush()
        app = App(name="okta", vendor_id=vendor.id)
        s.add(app)
        s.flush()
        integ = Integration(name="okta-sync", destination_app_id=app.id)
        s.add(integ)
        s.flush()
        s.add(
            Credential(
                name="okta-token",
                kind=CredentialKind("api_key"),
                ref="vault:okta/admin-token",
                integration_id=integ.id,
            )
        )
    report = _report(runtime, 200, connectors, ["RF-IDN-010", "RF-CRD-003"])
    [shared] = report["RF-IDN-010"].values()
    assert "okta-sync" in shared.message  # type: ignore[attr-defined]
    assert "connectors.yaml connector 'okta' (credential)" in shared.message  # type: ignore[attr-defined]
    assert set(report["RF-CRD-003"]) == {"okta-token", GITHUB}


def test_a_vendor_configured_twice_is_told_apart(runtime: Runtime, connectors: Path) -> None:
    connectors.write_text(
        CONNECTORS
        + "  - vendor: okta\n"
        + "    base_url: https://contractors.okta.example\n"
        + "    credential: vault:okta/contractors-token\n",
        encoding="utf-8",
    )
    runtime.vault.put("okta/contractors-token", "not-a-real-token-4")
    report = _report(runtime, 200, connectors, ["RF-CRD-001"])
    assert {"connector:okta[0]:credential", "connector:okta[2]:credential"} <= set(
        report["RF-CRD-001"]
    )


def test_a_broken_connectors_file_is_a_config_error_naming_it(
    runtime: Runtime, connectors: Path
) -> None:
    connectors.write_text(CONNECTORS.replace("credential: vault:", "credentials: vault:", 1))
    with runtime.store.session() as s, pytest.raises(ConfigError, match=r"connectors\.yaml"):
        load_context(s, runtime.clock.now(), connectors_file=connectors)


def test_check_reads_the_connectors_file_given_or_configured(
    runtime: Runtime,
    connectors: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = str(runtime.settings.data_dir)
    runtime.close()
    argv = ["check", "--only", "RF-CRD-003", "--no-record", "--fail-on", "never"]
    code, out, err = run([*argv, "--format", "json", "--data-dir", data], capsys)
    assert code == 0, err
    assert OKTA not in out  # no connectors file: nothing to age
    code, out, err = run(
        [*argv, "--format", "json", "--connectors", str(connectors), "--data-dir", data], capsys
    )
    assert code == 0, err
    assert OKTA in out and GITHUB in out
    monkeypatch.setenv("RINGFENCE_CONNECTORS_FILE", str(connectors))
    code, out, err = run([*argv, "--format", "json", "--data-dir", data], capsys)
    assert code == 0, err
    assert OKTA in out
