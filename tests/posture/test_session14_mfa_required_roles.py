"""RF-IDN-016 / RF-IDN-017 follow RINGFENCE_IDENTITY_MFA_REQUIRED_ROLES, the setting sign-in
enforces (session 14).

Before, posture's operator roles were fixed in code: a deployment that requires MFA of
auditors too saw an auditor without MFA reported as RF-IDN-017 (medium), below the role's
standing at sign-in. Now every role the setting names is RF-IDN-016's; the operators stay
RF-IDN-016's when the setting relaxes them (the finding then says sign-in does not require
it). A bad value is identity's ConfigError naming the variable, not a traceback."""

from __future__ import annotations

import pytest

from ringfence.core.errors import ConfigError
from ringfence.identity.accounts import Accounts
from ringfence.identity.roles import MFA_REQUIRED_ROLES
from ringfence.identity.settings import IdentitySettings
from ringfence.posture import PosturePolicy, run_checks
from ringfence.posture.loader import load_context
from ringfence.runtime import Runtime

PASSWORD = "correct horse battery staple 42"
VAR = "RINGFENCE_IDENTITY_MFA_REQUIRED_ROLES"


def _report(runtime: Runtime) -> dict[str, dict[str, str]]:
    with runtime.store.session() as s:
        ctx = load_context(s, runtime.clock.now())
    return {
        r.meta.id: {f.resource_id: f.message for f in r.failures}
        for r in run_checks(ctx, only=["RF-IDN-016", "RF-IDN-017"]).results
    }


def _users(runtime: Runtime) -> None:
    accounts = Accounts(runtime.store, runtime.vault, runtime.clock, IdentitySettings())
    accounts.create_user("ana", roles=["security-analyst"], password=PASSWORD)
    accounts.create_user("aud", roles=["auditor"], password=PASSWORD)
    accounts.create_user("otto", roles=["integration-owner"], password=PASSWORD)


def test_a_role_the_deployment_requires_mfa_of_is_reported_as_an_operator(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VAR, '["admin", "security-analyst", "auditor"]')
    _users(runtime)
    report = _report(runtime)
    assert set(report["RF-IDN-016"]) == {"ana", "aud"}
    assert "(auditor)" in report["RF-IDN-016"]["aud"]
    assert "does not require" not in report["RF-IDN-016"]["aud"]
    assert set(report["RF-IDN-017"]) == {"otto"}


def test_an_analyst_the_deployment_lets_sign_in_without_mfa_is_still_high_and_says_why(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VAR, '["admin"]')
    _users(runtime)
    report = _report(runtime)
    assert set(report["RF-IDN-016"]) == {"ana"}
    assert "sign-in does not require MFA of this role" in report["RF-IDN-016"]["ana"]
    assert VAR in report["RF-IDN-016"]["ana"]
    assert set(report["RF-IDN-017"]) == {"aud", "otto"}


def test_default_setting_keeps_the_session_13_split(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(VAR, raising=False)
    _users(runtime)
    report = _report(runtime)
    assert set(report["RF-IDN-016"]) == {"ana"}
    assert "does not require" not in report["RF-IDN-016"]["ana"]
    assert set(report["RF-IDN-017"]) == {"aud", "otto"}


def test_a_bad_setting_is_identitys_config_error(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VAR, '["auditor"]')  # admin left out
    with runtime.store.session() as s, pytest.raises(ConfigError, match=VAR):
        load_context(s, runtime.clock.now())


def test_posture_default_is_identitys_default() -> None:
    assert PosturePolicy().mfa_required_roles == MFA_REQUIRED_ROLES
