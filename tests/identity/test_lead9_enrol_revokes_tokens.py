"""Enrolling MFA revokes the personal tokens the user minted from sessions before it (they
were minted without a second factor, perhaps by whoever else had the password); tokens an
operator issued stay (session 9, left open by the review-9 fix that stopped new ones)."""

from __future__ import annotations

import pyotp
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from ringfence.core.clock import FixedClock
from ringfence.identity.accounts import Accounts
from ringfence.identity.models import PersonalToken
from ringfence.runtime import Runtime
from tests.identity.test_review9_auth_mfa_tokens import PASSWORD, _login, accounts  # noqa: F401


def test_enrolment_revokes_tokens_minted_without_mfa_but_not_operator_tokens(
    accounts: Accounts,  # noqa: F811
    app: FastAPI,
    clock: FixedClock,
    runtime: Runtime,
) -> None:
    user = accounts.create_user("bea@example.com", roles=["security-analyst"], password=PASSWORD)
    # As the earlier code let a password-only session do, and as an operator may do.
    mine = accounts.issue_token(user.id, "old", ["read"], 30, actor="user:bea@example.com")
    ops = accounts.issue_token(user.id, "ops", ["read"], 30, actor="cli")
    with TestClient(app, base_url="https://rf.example") as bea:
        _login(bea, "bea@example.com")
        enrol = bea.post("/api/v1/identity/me/mfa/totp").json()
        totp = pyotp.TOTP(pyotp.parse_uri(enrol["provisioning_uri"]).secret)
        confirm = bea.post(
            "/api/v1/identity/me/mfa/totp/confirm", json={"code": totp.at(clock.now())}
        )
        assert confirm.status_code == 200, confirm.text
    with runtime.store.session() as s:
        state = {t.id: t.revoked_at for t in s.scalars(select(PersonalToken))}
    assert state[mine.id] is not None and state[ops.id] is None
    with TestClient(app, base_url="https://rf.example") as client:
        old = {"Authorization": f"Bearer {mine.token.get_secret_value()}"}
        kept = {"Authorization": f"Bearer {ops.token.get_secret_value()}"}
        assert client.get("/api/v1/identity/me", headers=old).status_code == 401
        assert client.get("/api/v1/identity/me", headers=kept).status_code == 200
