"""Tokens and MFA are managed from a console session, never with a token (review 9, #11).

Before: a personal token holding ``self`` minted more tokens (a 1-day token minted a 365-day
one: ``Principal.mfa_passed`` defaulted to True for tokens) and started MFA enrolment for its
owner (whoever held a leaked token could bind their own authenticator to the account).
"""

from __future__ import annotations

from typing import Any

import pyotp
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ringfence.core.clock import FixedClock
from ringfence.identity.accounts import Accounts
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime

PASSWORD = "correct horse battery"
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def accounts(app: FastAPI, runtime: Runtime, identity_settings: IdentitySettings) -> Accounts:
    app.state.password_hasher = CHEAP
    return Accounts(runtime.store, runtime.vault, runtime.clock, identity_settings, CHEAP)


def _refused(r: Any) -> None:
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "session_required"


def test_a_token_cannot_mint_tokens_or_touch_mfa_but_a_session_can(
    accounts: Accounts, app: FastAPI, clock: FixedClock
) -> None:
    user = accounts.create_user("ann@example.com", roles=["security-analyst"], password=PASSWORD)
    uri = accounts.begin_totp(user.id).provisioning_uri.get_secret_value()
    totp = pyotp.TOTP(pyotp.parse_uri(uri).secret)
    accounts.confirm_totp(user.id, totp.at(clock.now()), actor="test")
    clock.advance(seconds=30)
    with TestClient(app, base_url="https://rf.example") as web:
        login = web.post(
            "/auth/login",
            json={"username": "ann@example.com", "password": PASSWORD, "otp": totp.at(clock.now())},
        )
        assert login.status_code == 200 and login.json()["mfa_passed"] is True, login.text
        web.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        short = web.post(
            "/api/v1/identity/me/tokens",
            json={"name": "ci-1day", "scopes": ["self", "read"], "ttl_days": 1},
        )
        assert short.status_code == 201, short.text
        pat = {"Authorization": f"Bearer {short.json()['token']}"}
    with TestClient(app, base_url="https://rf.example") as c:
        longer = {"name": "forever", "scopes": ["self", "read"], "ttl_days": 365}
        _refused(c.post("/api/v1/identity/me/tokens", json=longer, headers=pat))
        _refused(c.post("/api/v1/identity/me/mfa/totp", headers=pat))
        _refused(
            c.post("/api/v1/identity/me/mfa/totp/confirm", json={"code": "123456"}, headers=pat)
        )
        _refused(c.post("/api/v1/identity/me/mfa/verify", json={"code": "123456"}, headers=pat))
        # Reading its own tokens and revoking one (giving up access) stay possible.
        mine = c.get("/api/v1/identity/me/tokens", headers=pat)
        assert mine.status_code == 200 and [t["name"] for t in mine.json()] == ["ci-1day"]
        gone = c.delete(f"/api/v1/identity/me/tokens/{mine.json()[0]['id']}", headers=pat)
        assert gone.status_code == 204
        assert c.get("/api/v1/identity/me", headers=pat).status_code == 401


def test_a_leaked_token_cannot_enrol_mfa_for_an_unenrolled_owner(
    accounts: Accounts, app: FastAPI
) -> None:
    user = accounts.create_user("bob@example.com", roles=["auditor"], password=PASSWORD)
    token = accounts.issue_token(user.id, "ci", ["self", "read"], 30, actor="test")
    pat = {"Authorization": f"Bearer {token.token.get_secret_value()}"}
    with TestClient(app, base_url="https://rf.example") as c:
        _refused(c.post("/api/v1/identity/me/mfa/totp", headers=pat))
    assert accounts.get_user("bob@example.com").totp_ref is None  # nothing begun
