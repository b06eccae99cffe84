"""RF-IDN-016 / RF-IDN-017: console users who act without a second factor, from the store.

The identity capability requires MFA of admins and, by default, security analysts
(IdentitySettings.mfa_required_roles); a deployment that relaxes it to admins lets an analyst
sign in with a password alone and keep every analyst scope. Posture reports such an analyst,
and an SSO-only user whose newest sign-in carried no MFA from the identity provider."""

from __future__ import annotations

from sqlalchemy import update

from ringfence.identity.accounts import Accounts
from ringfence.identity.models import ConsoleUser
from ringfence.identity.settings import IdentitySettings
from ringfence.posture import run_checks
from ringfence.posture.loader import load_context
from ringfence.runtime import Runtime

PASSWORD = "correct horse battery staple 42"


def test_console_users_without_mfa_are_reported_by_role(runtime: Runtime) -> None:
    accounts = Accounts(runtime.store, runtime.vault, runtime.clock, IdentitySettings())
    accounts.create_user("ana", roles=["security-analyst"], password=PASSWORD)
    accounts.create_user("adam", roles=["admin"], password=PASSWORD)  # RF-IDN-014's
    accounts.create_user("otto", roles=["integration-owner"], password=PASSWORD)
    sso_user = accounts.create_user("sam", roles=["auditor"])
    sso_analyst = accounts.create_user("sid", roles=["security-analyst"])
    with runtime.store.session() as s:
        s.execute(
            update(ConsoleUser)
            .where(ConsoleUser.id.in_([sso_user.id, sso_analyst.id]))
            .values(sso_subject="idp|" + ConsoleUser.username)
        )
    accounts.create_session(sso_user.id, mfa_passed=False, method="oidc")  # no amr MFA
    accounts.create_session(sso_analyst.id, mfa_passed=True, method="oidc")  # IdP asserted
    with runtime.store.session() as s:
        ctx = load_context(s, runtime.clock.now())
    report = {
        r.meta.id: {f.resource_id: f.message for f in r.failures}
        for r in run_checks(ctx, only=["RF-IDN-014", "RF-IDN-016", "RF-IDN-017"]).results
    }
    assert set(report["RF-IDN-014"]) == {"adam"}
    assert set(report["RF-IDN-016"]) == {"ana"}
    assert "security-analyst" in report["RF-IDN-016"]["ana"]
    assert "password" in report["RF-IDN-016"]["ana"]
    assert set(report["RF-IDN-017"]) == {"otto", "sam"}
    assert "newest SSO sign-in carried no MFA" in report["RF-IDN-017"]["sam"]
