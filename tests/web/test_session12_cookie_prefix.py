"""Session 12: the console's session and CSRF cookies carry the ``__Host-`` prefix on HTTPS.

Without it a sibling subdomain (or any plain-HTTP page of the same host) could plant a
``rf_session`` / ``rf_csrf`` cookie the console would read (cookie tossing: session fixation,
a CSRF token the attacker knows). ``__Host-`` cookies are accepted by browsers only with
Secure, Path=/ and no Domain. The plain-HTTP loopback demo (``cookie_secure=false``) keeps
the bare names: browsers refuse a ``__Host-`` cookie without Secure."""

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
    return accounts


@pytest.fixture
def web(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://rf.example", follow_redirects=False) as client:
        yield client


def _set_cookies(resp: object) -> dict[str, str]:
    headers = resp.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    return {h.split("=", 1)[0]: h for h in headers}


def _login(web: TestClient, path: str) -> object:
    if path == "/auth/login":
        return web.post(path, json={"username": "ann@example.com", "password": PASSWORD})
    return web.post(path, data={"username": "ann@example.com", "password": PASSWORD})


@pytest.mark.parametrize("path", ["/auth/login", "/console/login"])
def test_https_cookies_use_the_host_prefix(accounts: Accounts, web: TestClient, path: str) -> None:
    resp = _login(web, path)
    cookies = _set_cookies(resp)
    assert "rf_session" not in cookies and "rf_csrf" not in cookies
    for name in ("__Host-rf_session", "__Host-rf_csrf"):
        header = cookies[name]
        attrs = [a.strip().lower() for a in header.split(";")[1:]]
        assert "secure" in attrs and "path=/" in attrs, header
        assert not any(a.startswith("domain") for a in attrs), header
    assert "httponly" in cookies["__Host-rf_session"].lower()
    assert web.get("/api/v1/identity/me").status_code == 200


def test_a_tossed_bare_cookie_is_not_read_on_https(accounts: Accounts, web: TestClient) -> None:
    """A valid session id planted under the unprefixed name (what a sibling subdomain can
    set) is not a session: only the __Host- cookie is read."""
    resp = web.post("/auth/login", json={"username": "ann@example.com", "password": PASSWORD})
    token = web.cookies["__Host-rf_session"]
    csrf = resp.json()["csrf_token"]  # type: ignore[attr-defined]
    web.cookies.clear()
    web.cookies.set("rf_session", token, domain="rf.example")
    web.cookies.set("rf_csrf", csrf, domain="rf.example")
    assert web.get("/api/v1/identity/me").status_code == 401
    assert web.get("/console/").headers["location"].endswith("/console/login")


def test_logout_expires_the_prefixed_cookies_with_secure(
    accounts: Accounts, web: TestClient
) -> None:
    resp = web.post("/auth/login", json={"username": "ann@example.com", "password": PASSWORD})
    csrf = resp.json()["csrf_token"]  # type: ignore[attr-defined]
    out = web.post("/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    cookies = _set_cookies(out)
    for name in ("__Host-rf_session", "__Host-rf_csrf"):
        attrs = [a.strip().lower() for a in cookies[name].split(";")[1:]]
        # a browser ignores a __Host- Set-Cookie (the deletion too) without Secure and Path=/
        assert "secure" in attrs and "path=/" in attrs and "max-age=0" in attrs
    assert web.get("/api/v1/identity/me").status_code == 401


def test_plain_http_loopback_keeps_bare_names_without_secure(
    app: FastAPI, runtime: Runtime
) -> None:
    """`make demo` serves the console on http://127.0.0.1: no Secure, so no prefix."""
    settings = IdentitySettings(cookie_secure=False, delay_base_seconds=0)
    app.state.identity_settings = settings
    app.state.password_hasher = CHEAP
    Accounts(runtime.store, runtime.vault, runtime.clock, settings, CHEAP).create_user(
        "ann@example.com", roles=["auditor"], password=PASSWORD
    )
    with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as web:
        resp = web.post("/auth/login", json={"username": "ann@example.com", "password": PASSWORD})
        cookies = _set_cookies(resp)
        assert not any(name.startswith("__Host-") for name in cookies)
        assert "secure" not in cookies["rf_session"].lower()
        assert web.get("/api/v1/identity/me").status_code == 200
