"""Personal tokens only from a session that passed MFA, whatever the roles (review 9, #9).

Before: ``mfa_passed = info.mfa_passed or not needs_mfa(roles)`` let every non-admin session
mint tokens — a password-only session (someone who phished the password) minted a 365-day
token that outlived the victim's later TOTP enrolment; an enrolled analyst signing in by SSO
without ``amr`` minted one without ever presenting the second factor.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ringfence.core.clock import FixedClock
from ringfence.identity.accounts import Accounts
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime
from tests.identity.oidc_provider import LoopbackOidcProvider, wire_sso

PASSWORD = "correct horse battery"
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
TOKEN = {"name": "backdoor", "scopes": ["read", "write"], "ttl_days": 365}


@pytest.fixture
def accounts(app: FastAPI, runtime: Runtime, identity_settings: IdentitySettings) -> Accounts:
    app.state.password_hasher = CHEAP
    return Accounts(runtime.store, runtime.vault, runtime.clock, identity_settings, CHEAP)


def _login(client: TestClient, username: str) -> dict[str, Any]:
    r = client.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    client.headers["X-CSRF-Token"] = body["csrf_token"]
    return body


def test_a_password_only_session_cannot_mint_a_token_that_outlives_enrolment(
    accounts: Accounts, app: FastAPI, clock: FixedClock
) -> None:
    accounts.create_user("ann@example.com", roles=["security-analyst"], password=PASSWORD)
    with (
        TestClient(app, base_url="https://rf.example") as attacker,
        TestClient(app, base_url="https://rf.example") as ann,
    ):
        assert _login(attacker, "ann@example.com")["mfa_passed"] is False
        # The session still works for the analyst's own scopes (MFA is not mandatory for
        # them) — it just cannot become a credential.
        assert attacker.get("/api/v1/integrations").status_code == 200
        minted = attacker.post("/api/v1/identity/me/tokens", json=TOKEN)
        assert minted.status_code == 403, minted.text
        assert minted.json()["code"] == "mfa_required"
        assert "enrol" in minted.json()["detail"]
        # Ann enrols; her session is replaced by an MFA-passed one, which may mint.
        _login(ann, "ann@example.com")
        enrol = ann.post("/api/v1/identity/me/mfa/totp").json()
        totp = pyotp.TOTP(pyotp.parse_uri(enrol["provisioning_uri"]).secret)
        confirm = ann.post(
            "/api/v1/identity/me/mfa/totp/confirm", json={"code": totp.at(clock.now())}
        )
        assert confirm.status_code == 200, confirm.text
        ann.headers["X-CSRF-Token"] = confirm.json()["csrf_token"]
        assert attacker.get("/api/v1/identity/me").status_code == 401
        ok = ann.post("/api/v1/identity/me/tokens", json={**TOKEN, "name": "ci", "ttl_days": 7})
        assert ok.status_code == 201, ok.text
        assert [t["name"] for t in ann.get("/api/v1/identity/me/tokens").json()] == ["ci"]


# -- SSO --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def provider() -> Iterator[LoopbackOidcProvider]:
    idp = LoopbackOidcProvider()
    idp.start()
    yield idp
    idp.stop()


@pytest.fixture
def sso(app: FastAPI, runtime: Runtime, provider: LoopbackOidcProvider) -> Iterator[TestClient]:
    provider.claims = {"email": "sam@example.com", "groups": ["rf-analysts"], "amr": ["pwd"]}
    http = wire_sso(app, runtime, provider, {"rf-analysts": ["security-analyst"]})
    with TestClient(app, base_url="https://rf.example") as client:
        yield client
    http.close()


def _sso_sign_in(web: TestClient) -> None:
    web.cookies.clear()
    web.headers.pop("X-CSRF-Token", None)
    start = web.get("/auth/oidc/login", follow_redirects=False)
    assert start.status_code == 302
    back = httpx.get(start.headers["location"], follow_redirects=False)
    assert back.status_code == 302, back.text
    url = urlsplit(back.headers["location"])
    done = web.get(f"{url.path}?{url.query}", follow_redirects=False)
    assert done.status_code == 303, done.text
    web.headers["X-CSRF-Token"] = web.cookies["__Host-rf_csrf"]


def test_an_enrolled_analyst_signing_in_by_sso_without_mfa_must_step_up_to_mint(
    sso: TestClient, runtime: Runtime
) -> None:
    clock = runtime.clock
    assert isinstance(clock, FixedClock)
    _sso_sign_in(sso)
    uri = sso.post("/api/v1/identity/me/mfa/totp").json()["provisioning_uri"]
    totp = pyotp.TOTP(parse_qs(urlsplit(uri).query)["secret"][0])
    confirm = sso.post("/api/v1/identity/me/mfa/totp/confirm", json={"code": totp.at(clock.now())})
    assert confirm.status_code == 200, confirm.text
    clock.advance(seconds=30)
    _sso_sign_in(sso)  # the provider asserts no MFA (amr: pwd)
    minted = sso.post("/api/v1/identity/me/tokens", json=TOKEN)
    assert minted.status_code == 403 and minted.json()["code"] == "mfa_required", minted.text
    ok = sso.post("/api/v1/identity/me/mfa/verify", json={"code": totp.at(clock.now())})
    assert ok.status_code == 200, ok.text
    sso.headers["X-CSRF-Token"] = ok.json()["csrf_token"]
    assert sso.post("/api/v1/identity/me/tokens", json=TOKEN).status_code == 201
