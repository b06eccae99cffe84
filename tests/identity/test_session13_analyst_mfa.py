"""Security analysts must use MFA by default, as admins do (session 13, RF-IDN-016).

Before, ``MFA_REQUIRED_ROLES`` was ``{admin}``: an analyst (inventory writes, lifecycle —
deactivating people —, reviews, audit) signed in with a password alone and held every scope.
Now ``IdentitySettings.mfa_required_roles`` (``RINGFENCE_IDENTITY_MFA_REQUIRED_ROLES``)
defaults to admin and security-analyst; admin can never be left out. These tests run on the
DEFAULT settings (the shared fixtures configure ``["admin"]`` for tests about other things).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ringfence.core.clock import FixedClock
from ringfence.core.errors import ConfigError, PermissionDeniedError
from ringfence.identity.accounts import Accounts
from ringfence.identity.roles import ADMIN, ANALYST, AUDITOR, OWNER, needs_mfa
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime

PASSWORD = "correct horse battery"
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
ENV = "RINGFENCE_IDENTITY_MFA_REQUIRED_ROLES"
WRITE = {"name": "Acme"}  # an inventory write (a vendor)


@pytest.fixture
def identity_settings(monkeypatch: pytest.MonkeyPatch) -> IdentitySettings:
    """The shipped default for MFA (overrides the shared fixture's relaxed list)."""
    monkeypatch.delenv(ENV, raising=False)
    return IdentitySettings(cookie_secure=True, delay_base_seconds=0)


@pytest.fixture
def accounts(app: FastAPI, runtime: Runtime, identity_settings: IdentitySettings) -> Accounts:
    app.state.password_hasher = CHEAP
    return Accounts(runtime.store, runtime.vault, runtime.clock, identity_settings, CHEAP)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://rf.example", follow_redirects=False) as c:
        yield c


def _login(client: TestClient, otp: str | None = None) -> dict[str, Any]:
    body = {"username": "ann@example.com", "password": PASSWORD}
    if otp:
        body["otp"] = otp
    r = client.post("/auth/login", json=body)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    client.headers["X-CSRF-Token"] = out["csrf_token"]
    return out


def test_the_default_requires_mfa_of_admins_and_analysts() -> None:
    assert IdentitySettings().mfa_required_roles == [ADMIN, ANALYST]
    assert needs_mfa([ANALYST]) and needs_mfa([ADMIN])  # callers without settings
    assert not needs_mfa([AUDITOR]) and not needs_mfa([OWNER])
    assert not needs_mfa([ANALYST], [ADMIN])
    assert needs_mfa([ADMIN], [ANALYST])  # admin is never optional, whatever is passed


def test_an_analyst_with_a_password_alone_holds_only_enrolment_until_enrolled(
    accounts: Accounts, client: TestClient, clock: FixedClock
) -> None:
    accounts.create_user("ann@example.com", roles=[ANALYST], password=PASSWORD)
    login = _login(client)
    assert login["mfa_passed"] is False and login["must_enroll_mfa"] is True
    me = client.get("/api/v1/identity/me").json()
    assert me["scopes"] == ["mfa:enroll", "self"]
    assert client.get("/api/v1/integrations").status_code == 403
    denied = client.post("/api/v1/vendors", json=WRITE)
    assert denied.status_code == 403, denied.text
    # Enrolling TOTP replaces the session with one that passed MFA: the analyst's scopes.
    enrol = client.post("/api/v1/identity/me/mfa/totp").json()
    totp = pyotp.TOTP(pyotp.parse_uri(enrol["provisioning_uri"]).secret)
    confirm = client.post(
        "/api/v1/identity/me/mfa/totp/confirm", json={"code": totp.at(clock.now())}
    )
    assert confirm.status_code == 200, confirm.text
    client.headers["X-CSRF-Token"] = confirm.json()["csrf_token"]
    me = client.get("/api/v1/identity/me").json()
    assert {"write", "identity:lifecycle", "audit:read"} <= set(me["scopes"])
    created = client.post("/api/v1/vendors", json=WRITE)
    assert created.status_code == 201, created.text


def test_the_console_holds_an_analyst_at_enrolment(accounts: Accounts, client: TestClient) -> None:
    accounts.create_user("ann@example.com", roles=[ANALYST], password=PASSWORD)
    r = client.post("/console/login", data={"username": "ann@example.com", "password": PASSWORD})
    assert r.status_code == 303 and r.headers["location"] == "/console/mfa"
    for page in ("/console/", "/console/integrations"):
        held = client.get(page)
        assert held.status_code == 303 and held.headers["location"] == "/console/mfa", page
    assert re.search(r'<code id="secret">[A-Z2-7]+</code>', client.get("/console/mfa").text)


def test_an_analyst_without_mfa_cannot_mint_a_personal_token(
    accounts: Accounts, client: TestClient
) -> None:
    user = accounts.create_user("ann@example.com", roles=[ANALYST], password=PASSWORD)
    with pytest.raises(PermissionDeniedError) as refused:
        accounts.issue_token(user.id, "ci", ["read"], 7, actor="t")
    assert refused.value.code == "mfa_required"
    _login(client)
    minted = client.post(
        "/api/v1/identity/me/tokens", json={"name": "ci", "scopes": ["read"], "ttl_days": 7}
    )
    assert minted.status_code == 403


def test_a_token_of_an_analyst_acts_on_nothing_until_they_enrol(
    runtime: Runtime, app: FastAPI, client: TestClient
) -> None:
    # Issued while the deployment let analysts go without MFA; the default then applies.
    relaxed = Accounts(
        runtime.store, runtime.vault, runtime.clock, IdentitySettings(mfa_required_roles=[ADMIN])
    )
    user = relaxed.create_user("ann@example.com", roles=[ANALYST], password=PASSWORD)
    token = relaxed.issue_token(user.id, "ci", ["read"], 7, actor="t").token.get_secret_value()
    h = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/integrations", headers=h).status_code == 403


def test_a_deployment_may_relax_analysts_but_never_admins(
    runtime: Runtime, app: FastAPI, client: TestClient
) -> None:
    app.state.identity_settings = IdentitySettings(
        cookie_secure=True, delay_base_seconds=0, mfa_required_roles=[ADMIN]
    )
    app.state.password_hasher = CHEAP
    accounts = Accounts(
        runtime.store, runtime.vault, runtime.clock, app.state.identity_settings, CHEAP
    )
    accounts.create_user("ann@example.com", roles=[ANALYST], password=PASSWORD)
    assert _login(client)["must_enroll_mfa"] is False
    assert client.post("/api/v1/vendors", json=WRITE).status_code == 201


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ('["security-analyst"]', "must include 'admin'"),
        ("[]", "must include 'admin'"),
        ('["admin", "analyst"]', "unknown roles ['analyst']"),
        ("admin,security-analyst", "not valid JSON"),
    ],
)
def test_a_bad_mfa_required_roles_is_a_config_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, value: str, says: str
) -> None:
    monkeypatch.setenv(ENV, value)
    with pytest.raises(ConfigError) as bad:
        IdentitySettings()
    assert ENV in str(bad.value) and says in str(bad.value)


def test_a_good_mfa_required_roles_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, '["auditor", "admin", "security-analyst"]')
    assert IdentitySettings().mfa_required_roles == [ADMIN, AUDITOR, ANALYST]
