"""SSO against a real OpenID provider on loopback: PKCE, state, nonce, ID-token checks."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from ringfence.identity.models import ConsoleUser
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime
from tests.identity.oidc_provider import LoopbackOidcProvider


@pytest.fixture(scope="module")
def provider() -> Iterator[LoopbackOidcProvider]:
    idp = LoopbackOidcProvider()
    idp.start()
    yield idp
    idp.stop()


@pytest.fixture
def sso_app(app: FastAPI, runtime: Runtime, provider: LoopbackOidcProvider) -> Iterator[FastAPI]:
    provider.mode = "good"
    provider.claims = {
        "email": "ann@example.com",
        "groups": ["rf-admins", "everyone"],
        "amr": ["pwd", "mfa"],
    }
    provider.jwks_hits = 0
    provider.now = lambda: int(runtime.clock.now().timestamp())
    runtime.vault.put("oidc-client-secret", provider.client_secret)
    app.state.identity_settings = IdentitySettings(
        oidc_issuer=provider.issuer,
        oidc_client_id=provider.client_id,
        oidc_client_secret_ref="vault:oidc-client-secret",
        oidc_redirect_uri="https://rf.example/auth/oidc/callback",
        oidc_group_roles={"rf-admins": ["admin"], "rf-analysts": ["security-analyst"]},
        mfa_required_roles=["admin"],  # analysts without MFA: these tests are about SSO
    )
    http = httpx.Client(timeout=5)
    app.state.oidc_http = http
    yield app
    http.close()


@pytest.fixture
def web(sso_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(sso_app, base_url="https://rf.example") as client:
        yield client


def _to_callback(web: TestClient, provider: LoopbackOidcProvider) -> str:
    start = web.get("/auth/oidc/login", follow_redirects=False)
    assert start.status_code == 302
    location = start.headers["location"]
    assert location.startswith(f"{provider.issuer}/authorize?")
    query = parse_qs(urlsplit(location).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0] and query["state"] != query["nonce"]
    assert "code_verifier" not in query
    back = httpx.get(location, follow_redirects=False)
    assert back.status_code == 302, back.text
    url = urlsplit(back.headers["location"])
    return f"{url.path}?{url.query}"


def test_sso_signs_in_and_maps_groups_to_roles(
    web: TestClient, provider: LoopbackOidcProvider, runtime: Runtime
) -> None:
    resp = web.get(_to_callback(web, provider), follow_redirects=False)
    assert resp.status_code == 303, resp.text
    assert any(c.startswith("__Host-rf_session=") for c in resp.headers.get_list("set-cookie"))
    me = web.get("/api/v1/identity/me").json()
    assert me["roles"] == ["admin"] and "identity:admin" in me["scopes"]
    with runtime.store.session() as s:
        user = s.scalar(select(ConsoleUser).where(ConsoleUser.username == "ann@example.com"))
        assert user is not None and user.sso_subject == f"{provider.issuer}|00u-ann"
        assert user.password_hash is None
    # JWKS and discovery are cached across sign-ins
    web.cookies.clear()
    assert web.get(_to_callback(web, provider), follow_redirects=False).status_code == 303
    assert provider.jwks_hits == 1


def test_replayed_state_is_refused(web: TestClient, provider: LoopbackOidcProvider) -> None:
    callback = _to_callback(web, provider)
    assert web.get(callback, follow_redirects=False).status_code == 303
    web.cookies.clear()
    replay = web.get(callback, follow_redirects=False)
    assert replay.status_code == 401 and replay.json()["code"] == "oidc_state"
    assert web.get("/api/v1/identity/me").status_code == 401


@pytest.mark.parametrize(
    "mode",
    ["forged", "wrong_aud", "wrong_iss", "wrong_nonce", "expired", "alg_none", "hs256_public"],
)
def test_bad_id_tokens_are_refused(
    web: TestClient, provider: LoopbackOidcProvider, mode: str
) -> None:
    provider.mode = mode
    resp = web.get(_to_callback(web, provider), follow_redirects=False)
    assert resp.status_code == 401, resp.text
    assert resp.json()["code"] == "oidc_id_token"
    assert not any(c.startswith("__Host-rf_session=") for c in resp.headers.get_list("set-cookie"))


def test_state_from_elsewhere_and_bad_callbacks(
    web: TestClient, provider: LoopbackOidcProvider
) -> None:
    callback = _to_callback(web, provider)
    forged_state = callback.split("state=")[0] + "state=attacker-chosen"
    assert web.get(forged_state, follow_redirects=False).json()["code"] == "oidc_state"
    assert web.get("/auth/oidc/callback", follow_redirects=False).status_code == 400
    denied = web.get("/auth/oidc/callback?error=access_denied", follow_redirects=False)
    assert denied.status_code == 401


def test_users_without_a_mapped_group_get_no_access(
    web: TestClient, provider: LoopbackOidcProvider
) -> None:
    provider.claims = {"email": "eve@example.com", "groups": ["everyone"]}
    resp = web.get(_to_callback(web, provider), follow_redirects=False)
    assert resp.status_code == 403 and resp.json()["code"] == "no_role"


def test_sso_admin_without_idp_mfa_must_enrol(
    web: TestClient, provider: LoopbackOidcProvider
) -> None:
    provider.claims = {"email": "root@example.com", "groups": ["rf-admins"], "amr": ["pwd"]}
    assert web.get(_to_callback(web, provider), follow_redirects=False).status_code == 303
    me = web.get("/api/v1/identity/me").json()
    assert sorted(me["scopes"]) == ["mfa:enroll", "self"]
    assert web.get("/api/v1/integrations").status_code == 403
    provider.claims = {"email": "ana@example.com", "groups": ["rf-analysts"]}
    web.cookies.clear()
    assert web.get(_to_callback(web, provider), follow_redirects=False).status_code == 303
    assert web.get("/api/v1/integrations").status_code == 200


def test_sso_not_configured_is_a_clear_404_not_a_500(app: FastAPI) -> None:
    # SSO is optional: where it is off, its routes do not exist (a 500 would page an operator
    # for every scanner that probes /auth/oidc/login).
    with TestClient(app, base_url="https://rf.example") as c:
        for url in ("/auth/oidc/login", "/auth/oidc/callback?code=c&state=s"):
            c.cookies.set("rf_oidc_state", "s", path="/auth/oidc")
            resp = c.get(url, follow_redirects=False)
            assert resp.status_code == 404, resp.text
            assert resp.headers["content-type"] == "application/problem+json"
            assert resp.json()["code"] == "sso_not_configured"
            assert "not configured" in resp.json()["detail"]


def test_rotated_provider_key_is_fetched_once_then_cached(
    web: TestClient, provider: LoopbackOidcProvider, runtime: Runtime
) -> None:
    from joserfc.jwk import RSAKey

    from ringfence.core.clock import FixedClock

    assert web.get(_to_callback(web, provider), follow_redirects=False).status_code == 303
    assert provider.jwks_hits == 1
    old = provider.key
    provider.key = RSAKey.generate_key(2048, parameters={"kid": "k2", "use": "sig"})
    try:
        web.cookies.clear()
        # within a minute of the last fetch an unknown key is refused without refetching
        assert web.get(_to_callback(web, provider), follow_redirects=False).status_code == 401
        assert provider.jwks_hits == 1
        assert isinstance(runtime.clock, FixedClock)
        runtime.clock.advance(seconds=61)
        assert web.get(_to_callback(web, provider), follow_redirects=False).status_code == 303
        assert provider.jwks_hits == 2
    finally:
        provider.key = old


def test_an_enrolled_admin_signing_in_by_sso_without_mfa_must_step_up_before_anything(
    web: TestClient, provider: LoopbackOidcProvider, runtime: Runtime
) -> None:
    """Review finding: such a session could mint a full-admin API token (its scopes were
    checked against the user's roles, not the session's), and the console looped between
    /console/ and /console/mfa instead of asking for the code."""
    import pyotp

    provider.claims = {"email": "root@example.com", "groups": ["rf-admins"], "amr": ["pwd"]}
    assert web.get(_to_callback(web, provider), follow_redirects=False).status_code == 303
    web.headers["X-CSRF-Token"] = web.cookies["__Host-rf_csrf"]
    uri = web.post("/api/v1/identity/me/mfa/totp").json()["provisioning_uri"]
    totp = pyotp.TOTP(pyotp.parse_uri(uri).secret)
    confirm = web.post(
        "/api/v1/identity/me/mfa/totp/confirm", json={"code": totp.at(runtime.clock.now())}
    )
    assert confirm.status_code == 200, confirm.text
    recovery = confirm.json()["recovery_codes"]
    runtime.clock.advance(seconds=30)  # type: ignore[attr-defined]

    # a later SSO sign-in whose provider asserts no MFA (someone with the IdP password only)
    web.cookies.clear()
    web.headers.pop("X-CSRF-Token")
    assert web.get(_to_callback(web, provider), follow_redirects=False).status_code == 303
    web.headers["X-CSRF-Token"] = web.cookies["__Host-rf_csrf"]
    assert sorted(web.get("/api/v1/identity/me").json()["scopes"]) == ["mfa:enroll", "self"]
    minted = web.post(
        "/api/v1/identity/me/tokens",
        json={"name": "x", "scopes": ["read", "write", "identity:admin"], "ttl_days": 30},
    )
    assert minted.status_code == 403 and minted.json()["code"] == "mfa_required"
    narrow = web.post("/api/v1/identity/me/tokens", json={"name": "x", "scopes": ["self"]})
    assert narrow.status_code == 403  # not even a token of the session's own scopes
    # the console asks for the code (no redirect loop)
    assert web.get("/console/", follow_redirects=False).headers["location"] == "/console/mfa"
    page = web.get("/console/mfa", follow_redirects=False)
    assert page.status_code == 200 and "Two-factor check" in page.text
    # bad input to the step-up: clear 4xx, and a wrong code counts as a failure
    assert web.post("/api/v1/identity/me/mfa/verify", json={}).status_code == 400
    both = {"code": "123456", "recovery_code": recovery[0]}
    assert web.post("/api/v1/identity/me/mfa/verify", json=both).status_code == 400
    assert web.post("/api/v1/identity/me/mfa/verify", json={"code": "12ab56"}).status_code == 422
    wrong = web.post("/api/v1/identity/me/mfa/verify", json={"code": "000000"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_code"
    old_cookie = web.cookies["__Host-rf_session"]
    ok = web.post("/api/v1/identity/me/mfa/verify", json={"code": totp.at(runtime.clock.now())})
    assert ok.status_code == 200, ok.text
    assert web.cookies["__Host-rf_session"] != old_cookie  # a new session id at the new privilege
    web.headers["X-CSRF-Token"] = ok.json()["csrf_token"]
    assert web.get("/api/v1/identity/users").status_code == 200
    again = web.post(
        "/api/v1/identity/me/tokens", json={"name": "ci", "scopes": ["read"], "ttl_days": 1}
    )
    assert again.status_code == 201, again.text
    # the old session id is worth nothing now
    web.cookies.set("__Host-rf_session", old_cookie, domain="rf.example")
    assert web.get("/api/v1/identity/me").status_code == 401


def test_the_sign_in_page_offers_sso_only_when_it_is_configured(
    app: FastAPI, web: TestClient
) -> None:
    # session 13: the link was always there, and without SSO it led to a JSON 404
    assert 'href="/auth/oidc/login"' in web.get("/console/login").text
    failed = web.post("/console/login", data={"username": "nobody", "password": "x" * 12})
    assert failed.status_code in (400, 401, 403) and 'href="/auth/oidc/login"' in failed.text
    app.state.identity_settings = IdentitySettings()
    with TestClient(app, base_url="https://rf.example") as plain:
        page = plain.get("/console/login")
        assert page.status_code == 200 and "Sign in" in page.text
        assert "/auth/oidc/login" not in page.text
