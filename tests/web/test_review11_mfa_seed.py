"""Review 11: a pending TOTP seed is shown again only to the session that began enrolment.

Before, the console's /console/mfa showed any pending seed (up to 15 minutes old) to any
session of the user: whoever else held the password could begin an enrolment through the
API, and the seed they had just read was the one the owner scanned and confirmed — the
attacker then held both factors."""

from __future__ import annotations

import re
from collections.abc import Iterator

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


@pytest.fixture
def owner(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://rf.example", follow_redirects=False) as client:
        yield client


@pytest.fixture
def intruder(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://rf.example", follow_redirects=False) as client:
        yield client


def _secret(html: str) -> str:
    found = re.search(r'<code id="secret">([A-Z2-7]+)</code>', html)
    assert found, html[:500]
    return found.group(1)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert found, html[:500]
    return found.group(1)


def test_a_seed_begun_by_another_session_is_never_shown_to_the_owner(
    accounts: Accounts, owner: TestClient, intruder: TestClient, clock: FixedClock
) -> None:
    accounts.create_user("root@example.com", roles=["admin"], password=PASSWORD)
    # Someone else with the password begins an enrolment and reads its seed.
    login = intruder.post(
        "/auth/login", json={"username": "root@example.com", "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    intruder.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    begun = intruder.post("/api/v1/identity/me/mfa/totp")
    assert begun.status_code == 200, begun.text
    planted = pyotp.parse_uri(begun.json()["provisioning_uri"]).secret
    # The owner signs in and opens the enrolment page: a seed of their own, not the planted one.
    r = owner.post("/console/login", data={"username": "root@example.com", "password": PASSWORD})
    assert r.headers["location"] == "/console/mfa"
    page = owner.get("/console/mfa")
    shown = _secret(page.text)
    assert shown != planted
    assert _secret(owner.get("/console/mfa").text) == shown  # a reload still keeps it
    done = owner.post(
        "/console/mfa",
        data={"code": pyotp.TOTP(shown).at(clock.now()), "csrf_token": _csrf(page.text)},
    )
    assert done.status_code == 200 and done.text.count("<code>") == 10
    # The planted seed opens nothing.
    clock.advance(seconds=60)
    again = intruder.post(
        "/auth/login",
        json={
            "username": "root@example.com",
            "password": PASSWORD,
            "otp": pyotp.TOTP(planted).at(clock.now()),
        },
    )
    assert again.status_code == 401
