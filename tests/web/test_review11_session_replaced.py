"""Review 11: signing in ends the session whose cookie the browser still had.

The new session's cookie overwrote the old one, but the old session stayed valid on the
server (until its idle timeout): on a shared browser the previous user's session, or a copy
of the cookie taken earlier, kept working after someone else signed in there."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ringfence.identity.accounts import Accounts
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime

PASSWORD = "correct horse battery"
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def accounts(app: FastAPI, runtime: Runtime, identity_settings: IdentitySettings) -> Accounts:
    app.state.password_hasher = CHEAP
    accounts = Accounts(runtime.store, runtime.vault, runtime.clock, identity_settings, CHEAP)
    accounts.create_user("ann@example.com", roles=["auditor"], password=PASSWORD)
    accounts.create_user("bob@example.com", roles=["auditor"], password=PASSWORD)
    return accounts


@pytest.fixture
def web(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://rf.example", follow_redirects=False) as client:
        yield client


def _still_valid(accounts: Accounts, token: str) -> bool:
    return accounts.resolve_session(token) is not None


@pytest.mark.parametrize("via", ["console", "api"])
def test_a_sign_in_ends_the_session_the_browser_had(
    accounts: Accounts, web: TestClient, via: str
) -> None:
    def sign_in(username: str) -> str:
        if via == "console":
            r = web.post("/console/login", data={"username": username, "password": PASSWORD})
            assert r.status_code == 303, r.text
        else:
            r = web.post("/auth/login", json={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
        token = web.cookies.get("__Host-rf_session")
        assert token
        return token

    ann = sign_in("ann@example.com")
    bob = sign_in("bob@example.com")
    assert bob != ann
    assert not _still_valid(accounts, ann)
    assert _still_valid(accounts, bob)
    again = sign_in("bob@example.com")
    assert not _still_valid(accounts, bob) and _still_valid(accounts, again)
