"""Review 11: a provider whose issuer ends in "/" (Auth0: https://<tenant>.auth0.com/) signs in.

The discovery document's issuer was compared without its trailing slash, but the ID token's
``iss`` was checked against the configured issuer with the slash stripped, so every ID token
of such a provider was refused (401 oidc_id_token): SSO could not work with it at all. The
``iss`` is now checked against the discovery document's issuer exactly."""

# ruff: noqa: F811  (the SSO fixtures of test_oidc are imported, then requested by name)
from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime
from tests.identity.oidc_provider import LoopbackOidcProvider
from tests.identity.test_oidc import provider  # noqa: F401


@pytest.fixture
def slash_app(app: FastAPI, runtime: Runtime, provider: LoopbackOidcProvider) -> Iterator[FastAPI]:
    provider.mode = "good"
    provider.claims = {"email": "ann@example.com", "groups": ["rf-analysts"], "amr": ["mfa"]}
    provider.now = lambda: int(runtime.clock.now().timestamp())
    provider.issuer = provider.base + "/"
    runtime.vault.put("oidc-client-secret", provider.client_secret)
    app.state.identity_settings = IdentitySettings(
        oidc_issuer=provider.issuer,
        oidc_client_id=provider.client_id,
        oidc_client_secret_ref="vault:oidc-client-secret",
        oidc_redirect_uri="https://rf.example/auth/oidc/callback",
        oidc_group_roles={"rf-analysts": ["security-analyst"]},
    )
    http = httpx.Client(timeout=5)
    app.state.oidc_http = http
    try:
        yield app
    finally:
        http.close()
        provider.issuer = provider.base


def test_an_issuer_with_a_trailing_slash_signs_in_and_a_foreign_one_does_not(
    slash_app: FastAPI, provider: LoopbackOidcProvider
) -> None:
    with TestClient(slash_app, base_url="https://rf.example") as web:
        for mode, expected in (("good", 303), ("wrong_iss", 401)):
            provider.mode = mode
            start = web.get("/auth/oidc/login", follow_redirects=False)
            assert start.status_code == 302, start.text
            back = httpx.get(start.headers["location"], follow_redirects=False)
            url = urlsplit(back.headers["location"])
            done = web.get(f"{url.path}?{url.query}", follow_redirects=False)
            assert done.status_code == expected, (mode, done.text)
        assert web.get("/api/v1/identity/me").json()["roles"] == ["security-analyst"]
