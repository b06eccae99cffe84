"""Fixtures for the security review tests: an API app on a migrated SQLite store (copied from
a per-session template), a read-write control-plane token, and a loopback OpenID provider with
an app configured for SSO against it."""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ringfence.api.app import create_app
from ringfence.core.clock import FixedClock
from ringfence.core.config import load_settings
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime
from ringfence.store.apitokens import ApiTokens
from ringfence.store.db import Store
from tests.identity.oidc_provider import LoopbackOidcProvider


@pytest.fixture(scope="session")
def _migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("security-template") / "template.db"
    store = Store(f"sqlite:///{path}")
    store.migrate()
    with store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    store.dispose()
    return path


@pytest.fixture
def runtime(
    _migrated_template: Path, tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Runtime]:
    monkeypatch.setenv("RINGFENCE_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    db = tmp_path / "security.db"
    shutil.copyfile(_migrated_template, db)
    settings = load_settings(data_dir=tmp_path / "data", store_url=f"sqlite:///{db}")
    rt = Runtime.open(settings, clock=clock)
    yield rt
    rt.close()


@pytest.fixture
def app(runtime: Runtime) -> FastAPI:
    application = create_app(runtime)
    application.state.identity_settings = IdentitySettings(cookie_secure=True, delay_base_seconds=0)
    return application


@pytest.fixture
def rw_token(runtime: Runtime) -> str:
    issued = ApiTokens(runtime.store, runtime.clock).issue("sec-rw", ["read", "write"], 30)
    return issued.token.get_secret_value()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://rf.example") as c:
        yield c


@pytest.fixture
def api(app: FastAPI, rw_token: str) -> Iterator[TestClient]:
    with TestClient(
        app, base_url="https://rf.example", headers={"Authorization": f"Bearer {rw_token}"}
    ) as c:
        yield c


@pytest.fixture(scope="session")
def provider() -> Iterator[LoopbackOidcProvider]:
    idp = LoopbackOidcProvider()
    idp.start()
    yield idp
    idp.stop()


@pytest.fixture
def sso_app(app: FastAPI, runtime: Runtime, provider: LoopbackOidcProvider) -> Iterator[FastAPI]:
    provider.mode = "good"
    provider.claims = {"email": "ann@example.com", "groups": ["rf-owners"], "amr": ["mfa"]}
    provider.now = lambda: int(runtime.clock.now().timestamp())
    runtime.vault.put("oidc-client-secret", provider.client_secret)
    app.state.identity_settings = IdentitySettings(
        cookie_secure=True,
        delay_base_seconds=0,
        oidc_issuer=provider.issuer,
        oidc_client_id=provider.client_id,
        oidc_client_secret_ref="vault:oidc-client-secret",
        oidc_redirect_uri="https://rf.example/auth/oidc/callback",
        oidc_group_roles={"rf-owners": ["integration-owner"]},
    )
    http = httpx.Client(timeout=5)
    app.state.oidc_http = http
    yield app
    http.close()


def oidc_callback_url(browser: TestClient) -> str:
    """Start a sign-in in ``browser``, let the provider answer, return the callback URL."""
    start = browser.get("/auth/oidc/login", follow_redirects=False)
    assert start.status_code == 302
    back = httpx.get(start.headers["location"], follow_redirects=False)
    assert back.status_code == 302, back.text
    url = urlsplit(back.headers["location"])
    return f"{url.path}?{url.query}"
