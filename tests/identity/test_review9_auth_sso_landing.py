"""After SSO the browser lands in the console, not on a 404 (review 9, #16).

Before: ``/auth/oidc/callback`` redirected to ``/``, which nothing serves. Now: ``/console/``,
or ``/console/mfa`` when the session still has to pass MFA there (an admin whose provider
asserted none; a user enrolled here, who steps up).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ringfence.runtime import Runtime
from tests.identity.oidc_provider import LoopbackOidcProvider, wire_sso


@pytest.fixture(scope="module")
def provider() -> Iterator[LoopbackOidcProvider]:
    idp = LoopbackOidcProvider()
    idp.start()
    yield idp
    idp.stop()


@pytest.fixture
def web(app: FastAPI, runtime: Runtime, provider: LoopbackOidcProvider) -> Iterator[TestClient]:
    roles = {"rf-admins": ["admin"], "rf-analysts": ["security-analyst"]}
    http = wire_sso(app, runtime, provider, roles)
    with TestClient(app, base_url="https://rf.example", follow_redirects=False) as client:
        yield client
    http.close()


def _landing(web: TestClient) -> str:
    web.cookies.clear()
    start = web.get("/auth/oidc/login")
    assert start.status_code == 302
    back = httpx.get(start.headers["location"], follow_redirects=False)
    assert back.status_code == 302, back.text
    url = urlsplit(back.headers["location"])
    done = web.get(f"{url.path}?{url.query}")
    assert done.status_code == 303, done.text
    location: str = done.headers["location"]
    return location


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"email": "sam@example.com", "groups": ["rf-analysts"]}, "/console/"),
        ({"email": "ann@example.com", "groups": ["rf-admins"], "amr": ["mfa"]}, "/console/"),
        ({"email": "root@example.com", "groups": ["rf-admins"], "amr": ["pwd"]}, "/console/mfa"),
    ],
)
def test_sso_lands_in_the_console(
    web: TestClient,
    provider: LoopbackOidcProvider,
    claims: dict[str, object],
    expected: str,
) -> None:
    provider.claims = claims
    location = _landing(web)
    assert location == expected
    assert web.get(location).status_code == 200


def test_an_enrolled_user_without_mfa_from_the_provider_lands_on_the_step_up(
    web: TestClient, provider: LoopbackOidcProvider, runtime: Runtime
) -> None:
    import pyotp

    provider.claims = {"email": "sam@example.com", "groups": ["rf-analysts"], "amr": ["pwd"]}
    assert _landing(web) == "/console/"  # not enrolled: MFA is not mandatory for analysts
    web.headers["X-CSRF-Token"] = web.cookies["__Host-rf_csrf"]
    uri = web.post("/api/v1/identity/me/mfa/totp").json()["provisioning_uri"]
    totp = pyotp.TOTP(pyotp.parse_uri(uri).secret)
    code = totp.at(runtime.clock.now())
    assert web.post("/api/v1/identity/me/mfa/totp/confirm", json={"code": code}).status_code == 200
    del web.headers["X-CSRF-Token"]
    location = _landing(web)
    assert location == "/console/mfa"
    page = web.get(location)
    assert page.status_code == 200 and "Two-factor check" in page.text
