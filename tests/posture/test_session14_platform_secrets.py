"""Vault entries only Ringfence's own configuration reads are rotated like credentials
(session 14).

The SSO client secret (RINGFENCE_IDENTITY_OIDC_CLIENT_SECRET_REF) and a monitor sink's token
(monitor.yaml ``token_vault``) are not inventory credentials: RF-CRD-001/003 looked only at
those, so an SSO secret or a SIEM token never rotated was reported nowhere, and RF-IDN-010 did
not see an integration credential sharing Ringfence's SSO secret."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ringfence.core.clock import FixedClock
from ringfence.core.errors import ConfigError
from ringfence.posture import run_checks
from ringfence.posture.loader import load_context
from ringfence.runtime import Runtime
from ringfence.store.models import App, Credential, CredentialKind, Integration, Vendor

SSO_VAR = "RINGFENCE_IDENTITY_OIDC_CLIENT_SECRET_REF"
MONITOR = """\
sinks:
  - {name: splunk, type: splunk_hec, url: "https://splunk.example:8088", token_vault: siem/hec}
  - {name: soar, type: webhook, url: "https://soar.example/hook", secret_env: RF_HOOK_KEY}
"""


@pytest.fixture
def platform(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    monkeypatch.setenv(SSO_VAR, "vault:sso/client-secret")
    (runtime.settings.data_dir / "monitor.yaml").write_text(MONITOR, encoding="utf-8")
    runtime.vault.put("sso/client-secret", "not-a-real-secret-1")
    runtime.vault.put("siem/hec", "not-a-real-token-2")
    return runtime


def _report(rt: Runtime, days: int, ids: list[str]) -> dict[str, dict[str, object]]:
    with rt.store.session() as s:
        ctx = load_context(s, rt.clock.now() + timedelta(days=days), data_dir=rt.settings.data_dir)
    return {
        r.meta.id: {f.resource_id: f for f in r.failures} for r in run_checks(ctx, only=ids).results
    }


def test_an_sso_secret_and_a_sink_token_never_rotated_are_reported(platform: Runtime) -> None:
    report = _report(platform, 200, ["RF-CRD-001", "RF-CRD-003"])
    for check_id in ("RF-CRD-001", "RF-CRD-003"):
        assert set(report[check_id]) == {"sso:oidc_client_secret", "sink:splunk:token"}
    sso = report["RF-CRD-003"]["sso:oidc_client_secret"]
    assert "never rotated in 200 days" in sso.message  # type: ignore[attr-defined]
    assert SSO_VAR in sso.message  # type: ignore[attr-defined]
    assert "vault:sso/client-secret version 1" in sso.evidence["evidenced_by"]  # type: ignore[attr-defined]
    sink = report["RF-CRD-001"]["sink:splunk:token"]
    assert "monitor.yaml sink 'splunk' (token_vault)" in sink.message  # type: ignore[attr-defined]


def test_a_new_vault_version_is_the_rotation(platform: Runtime, clock: FixedClock) -> None:
    clock.advance(days=150)
    platform.vault.put("siem/hec", "not-a-real-token-3")  # rotated
    report = _report(platform, 50, ["RF-CRD-001", "RF-CRD-003"])
    assert set(report["RF-CRD-003"]) == {"sso:oidc_client_secret"}
    assert set(report["RF-CRD-001"]) == {"sso:oidc_client_secret"}  # siem/hec: 50 days old


def test_an_integration_sharing_the_sso_secret_is_a_shared_credential_reported_once(
    platform: Runtime,
) -> None:
    with platform.store.session() as s:
        vendor = Vendor(name="Acme")
        s.add(vendor)
        s.flush()
        app = App(name="crm", vendor_id=vendor.id)
        s.add(app)
        s.flush()
        integ = Integration(name="crm-sync", destination_app_id=app.id)
        s.add(integ)
        s.flush()
        s.add(
            Credential(
                name="crm-secret",
                kind=CredentialKind("api_key"),
                ref="vault:sso/client-secret",
                integration_id=integ.id,
            )
        )
    report = _report(platform, 200, ["RF-IDN-010", "RF-CRD-003"])
    [shared] = report["RF-IDN-010"].values()
    assert "crm-sync" in shared.message and SSO_VAR in shared.message  # type: ignore[attr-defined]
    # The entry's age is the credential's finding, not a second one for SSO.
    assert set(report["RF-CRD-003"]) == {"crm-secret", "sink:splunk:token"}


def test_env_references_and_unset_sso_add_nothing(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SSO_VAR, raising=False)
    (runtime.settings.data_dir / "monitor.yaml").write_text(
        MONITOR.replace("token_vault: siem/hec", "token_env: RF_HEC"), encoding="utf-8"
    )
    with runtime.store.session() as s:
        ctx = load_context(s, runtime.clock.now(), data_dir=runtime.settings.data_dir)
    assert ctx.platform_secrets == []


def test_a_broken_monitor_yaml_is_a_config_error_naming_it(platform: Runtime) -> None:
    (platform.settings.data_dir / "monitor.yaml").write_text("sinks: [{name: x, typo: 1}]\n")
    with platform.store.session() as s, pytest.raises(ConfigError, match=r"monitor\.yaml"):
        load_context(s, platform.clock.now(), data_dir=platform.settings.data_dir)
