"""OIDC sign-in: the callback must complete only in the browser that started the sign-in
(otherwise an attacker can sign a victim's browser into the attacker's account: login CSRF)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.security.conftest import oidc_callback_url as _callback


def test_callback_started_in_another_browser_is_refused(sso_app: FastAPI) -> None:
    """Login CSRF: the attacker signs in at the IdP as themselves and sends the victim the
    callback URL; the victim's browser must not end up in the attacker's session."""
    with (
        TestClient(sso_app, base_url="https://rf.example") as attacker,
        TestClient(sso_app, base_url="https://rf.example") as victim,
    ):
        url = _callback(attacker)
        resp = victim.get(url, follow_redirects=False)
        assert resp.status_code == 401, resp.text
        assert resp.json()["code"] == "oidc_state"
        assert not any(c.startswith("rf_session=") for c in resp.headers.get_list("set-cookie"))
        assert victim.get("/api/v1/identity/me").status_code == 401
        # the browser that started the flow still completes it
        assert attacker.get(url, follow_redirects=False).status_code == 303
        assert attacker.get("/api/v1/identity/me").json()["name"] == "ann@example.com"


def test_state_cookie_is_httponly_secure_and_scoped(sso_app: FastAPI) -> None:
    with TestClient(sso_app, base_url="https://rf.example") as browser:
        start = browser.get("/auth/oidc/login", follow_redirects=False)
        cookie = next(
            c for c in start.headers.get_list("set-cookie") if c.startswith("rf_oidc_state=")
        )
        lowered = cookie.lower()
        assert "httponly" in lowered and "secure" in lowered and "samesite=lax" in lowered
        assert "path=/auth/oidc" in lowered
