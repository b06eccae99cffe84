"""Admin requires MFA: a personal token must not carry an admin who has not enrolled MFA past
that rule (the console session of the same user gets only ``mfa:enroll``)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ringfence.identity.accounts import Accounts
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime


def test_token_of_user_promoted_to_admin_without_mfa_is_powerless(
    client: TestClient, runtime: Runtime
) -> None:
    # A deployment where analysts go without MFA (the default requires it of them too): the
    # token is then valid until the promotion to admin, which always requires MFA.
    relaxed = IdentitySettings(
        cookie_secure=True, delay_base_seconds=0, mfa_required_roles=["admin"]
    )
    client.app.state.identity_settings = relaxed  # type: ignore[attr-defined]
    accounts = Accounts(runtime.store, runtime.vault, runtime.clock, relaxed)
    user = accounts.create_user(
        "dana", roles=["security-analyst"], password="correct horse battery"
    )
    token = accounts.issue_token(user.id, "ci", ["read", "write"], 30, actor="test")
    headers = {"Authorization": f"Bearer {token.token.get_secret_value()}"}
    assert client.get("/api/v1/integrations", headers=headers).status_code == 200
    accounts.set_roles(user.id, ["admin"], actor="test")
    resp = client.get("/api/v1/integrations", headers=headers)
    assert resp.status_code == 403, resp.text
    created = client.post("/api/v1/vendors", json={"name": "Evil"}, headers=headers)
    assert created.status_code == 403, created.text
