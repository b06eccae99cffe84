"""Review 9: an SSO sign-in links to a person only through identifiers a trusted party vouched
for, and deprovisioning reaches SSO accounts that are not linked."""

# ruff: noqa: F811  (the SSO fixtures of test_oidc are imported, then requested by name)
from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from ringfence.core.clock import FixedClock
from ringfence.core.errors import ValidationError
from ringfence.identity import oidc
from ringfence.identity.accounts import Accounts
from ringfence.identity.models import ConsoleUser, OidcLoginState
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime
from tests.identity.oidc_provider import OMIT, LoopbackOidcProvider
from tests.identity.test_oidc import _to_callback, provider, sso_app, web  # noqa: F401

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def _user(runtime: Runtime, subject_sub: str, provider: LoopbackOidcProvider) -> ConsoleUser:
    with runtime.store.session() as s:
        user = s.scalar(
            select(ConsoleUser).where(ConsoleUser.sso_subject == f"{provider.issuer}|{subject_sub}")
        )
        assert user is not None
        return user


def test_unverified_preferred_username_never_squats_a_colleagues_identity(
    web: TestClient, provider: LoopbackOidcProvider, runtime: Runtime, scim: TestClient
) -> None:
    """Finding 1: the attacker's preferred_username (the victim's address) became his console
    username; SCIM provisioning the victim then linked him to her person (and integrations),
    and her own SSO sign-in was refused with sso_conflict."""
    victim = "victim@example.com"
    provider.claims = {
        "sub": "attacker",
        "email": "attacker@evil.test",
        "email_verified": False,
        "preferred_username": victim,
        "groups": ["rf-analysts"],
        "amr": ["mfa"],
    }
    assert web.get(_to_callback(web, provider), follow_redirects=False).status_code == 303
    attacker = _user(runtime, "attacker", provider)
    assert attacker.username == f"sso:{victim}"  # never in the email namespace
    assert attacker.username_source == "sso_name" and attacker.person_email is None

    created = scim.post("/scim/v2/Users", json={"schemas": [USER], "userName": victim})
    assert created.status_code == 201, created.text
    assert _user(runtime, "attacker", provider).person_id is None
    web.cookies.clear()
    assert web.get("/api/v1/identity/me").json().get("person_id") is None

    provider.claims = {
        "sub": "victim",
        "email": victim,
        "email_verified": True,
        "groups": ["rf-analysts"],
        "amr": ["mfa"],
    }
    resp = web.get(_to_callback(web, provider), follow_redirects=False)
    assert resp.status_code == 303, resp.text
    real = _user(runtime, "victim", provider)
    assert real.username == victim and real.username_source == "sso_email"
    assert real.person_id == created.json()["id"]


def test_a_verified_sso_user_signing_in_before_scim_is_linked_when_scim_provisions(
    web: TestClient, provider: LoopbackOidcProvider, runtime: Runtime, scim: TestClient
) -> None:
    provider.claims = {
        "sub": "carol",
        "email": "Carol@Example.com",
        "email_verified": True,
        "groups": ["rf-analysts"],
    }
    assert web.get(_to_callback(web, provider), follow_redirects=False).status_code == 303
    assert _user(runtime, "carol", provider).person_id is None
    created = scim.post("/scim/v2/Users", json={"schemas": [USER], "userName": "carol@example.com"})
    assert created.status_code == 201, created.text
    assert _user(runtime, "carol", provider).person_id == created.json()["id"]


PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _set_active(scim: TestClient, uid: str, value: object) -> None:
    op = {"op": "Replace", "path": "active", "value": value}
    resp = scim.patch(f"/scim/v2/Users/{uid}", json={"schemas": [PATCH], "Operations": [op]})
    assert resp.status_code == 200, resp.text


def _accounts(runtime: Runtime) -> Accounts:
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return Accounts(
        runtime.store,
        runtime.vault,
        runtime.clock,
        IdentitySettings(mfa_required_roles=["admin"]),
        cheap,
    )


def test_a_declared_person_email_is_kept_until_scim_provisions_the_person(
    app: FastAPI, runtime: Runtime, scim: TestClient
) -> None:
    """Finding 2: person_email naming no person yet was dropped (person_id None), so the SCIM
    deactivation of bob.smith left bsmith's session, token and password working."""
    accounts = _accounts(runtime)
    app.state.password_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    user = accounts.create_user(
        "bsmith",
        roles=["security-analyst"],
        password="correct horse battery",
        person_email="Bob.Smith@example.com",
    )
    assert user.person_id is None and user.person_email == "bob.smith@example.com"
    pat = accounts.issue_token(user.id, "ci", ["read"], 30, actor="test")
    created = scim.post(
        "/scim/v2/Users",
        json={
            "schemas": [USER],
            "userName": "bob.smith@example.com",
            "emails": [{"value": "bob.smith@example.com", "primary": True}],
        },
    )
    assert created.status_code == 201, created.text
    assert accounts.get_user("bsmith").person_id == created.json()["id"]
    _set_active(scim, created.json()["id"], False)
    assert accounts.get_user("bsmith").disabled_at is not None
    with TestClient(app, base_url="https://rf.example") as web:
        bearer = {"Authorization": f"Bearer {pat.token.get_secret_value()}"}
        assert web.get("/api/v1/integrations", headers=bearer).status_code == 401
        login = {"username": "bsmith", "password": "correct horse battery"}
        assert web.post("/auth/login", json=login).status_code == 401


@pytest.mark.parametrize("bad", ["bob", "bob@", "@example.com", "bob smith@example.com", "a@b"])
def test_a_person_email_that_is_not_an_email_is_refused(runtime: Runtime, bad: str) -> None:
    with pytest.raises(ValidationError):
        _accounts(runtime).create_user("bsmith", roles=["auditor"], person_email=bad)


def test_entra_defaults_scim_deprovisioning_reaches_the_unlinked_sso_user(
    web: TestClient, provider: LoopbackOidcProvider, runtime: Runtime, scim: TestClient
) -> None:
    """Finding 2 (Entra's defaults): no email_verified claim, preferred_username = UPN =
    SCIM userName, SCIM emails = the work mail. The SSO user is not linked (nothing
    verified), but the SCIM deactivation disables it and revokes its sessions and tokens;
    the reactivation gives the account back."""
    upn, mail = "jdoe@corp.example", "john.doe@example.com"
    provider.claims = {
        "sub": "entra-pairwise-sub",
        "email": mail,
        "email_verified": OMIT,
        "preferred_username": upn,
        "groups": ["rf-analysts"],
        "amr": ["pwd", "mfa"],
    }
    assert web.get(_to_callback(web, provider), follow_redirects=False).status_code == 303
    web.headers["X-CSRF-Token"] = web.cookies["__Host-rf_csrf"]
    minted = web.post(
        "/api/v1/identity/me/tokens", json={"name": "t", "scopes": ["read"], "ttl_days": 365}
    )
    assert minted.status_code == 201, minted.text
    created = scim.post(
        "/scim/v2/Users",
        json={
            "schemas": [USER],
            "userName": upn,
            "emails": [{"type": "work", "value": mail, "primary": True}],
            "active": True,
        },
    )
    assert created.status_code == 201, created.text
    assert _user(runtime, "entra-pairwise-sub", provider).person_id is None  # never linked
    _set_active(scim, created.json()["id"], "False")
    assert _user(runtime, "entra-pairwise-sub", provider).disabled_at is not None
    assert web.get("/api/v1/identity/me").status_code == 401
    bearer = {"Authorization": f"Bearer {minted.json()['token']}"}
    web.cookies.clear()
    assert web.get("/api/v1/integrations", headers=bearer).status_code == 401
    _set_active(scim, created.json()["id"], True)
    assert _user(runtime, "entra-pairwise-sub", provider).disabled_at is None


def test_the_idps_stable_user_id_links_sso_user_and_scim_person(
    web: TestClient, provider: LoopbackOidcProvider, runtime: Runtime, scim: TestClient
) -> None:
    """Okta sends its user id as both the ID token's sub and SCIM externalId."""
    provider.claims = {"sub": "00u-dave", "email": OMIT, "groups": ["rf-analysts"]}
    assert web.get(_to_callback(web, provider), follow_redirects=False).status_code == 303
    created = scim.post(
        "/scim/v2/Users",
        json={"schemas": [USER], "userName": "dave@example.com", "externalId": "00u-dave"},
    )
    assert created.status_code == 201, created.text
    assert _user(runtime, "00u-dave", provider).person_id == created.json()["id"]


def test_removal_from_every_idp_group_clears_roles_sessions_and_tokens(
    web: TestClient, provider: LoopbackOidcProvider, runtime: Runtime, sso_app: FastAPI
) -> None:
    """Finding 6: the sign-in was refused with no_role before the roles were updated, so the
    user's old session and a 365-day token kept the analyst role the IdP had taken away."""
    claims = {
        "sub": "grp",
        "email": "grp@example.com",
        "groups": ["rf-analysts"],
        "amr": ["pwd", "mfa"],
    }
    provider.claims = claims
    assert web.get(_to_callback(web, provider), follow_redirects=False).status_code == 303
    web.headers["X-CSRF-Token"] = web.cookies["__Host-rf_csrf"]
    minted = web.post(
        "/api/v1/identity/me/tokens",
        json={"name": "ci", "scopes": ["read", "write"], "ttl_days": 365},
    )
    assert minted.status_code == 201, minted.text
    bearer = {"Authorization": f"Bearer {minted.json()['token']}"}

    provider.claims = {**claims, "groups": ["everyone"]}
    with TestClient(sso_app, base_url="https://rf.example") as again:
        refused = again.get(_to_callback(again, provider), follow_redirects=False)
        assert refused.status_code == 403 and refused.json()["code"] == "no_role"
        assert again.get("/api/v1/integrations", headers=bearer).status_code == 401
    assert web.get("/api/v1/identity/me").status_code == 401  # the old session is over
    user = _user(runtime, "grp", provider)
    assert user.roles == []
    # back in a group: signs in again with the new role
    provider.claims = claims
    web.cookies.clear()
    web.headers.pop("X-CSRF-Token")
    assert web.get(_to_callback(web, provider), follow_redirects=False).status_code == 303
    assert _user(runtime, "grp", provider).roles == ["security-analyst"]


def test_no_role_for_an_unknown_subject_creates_nothing(
    web: TestClient, provider: LoopbackOidcProvider, runtime: Runtime
) -> None:
    provider.claims = {"sub": "stranger", "email": "s@example.com", "groups": []}
    resp = web.get(_to_callback(web, provider), follow_redirects=False)
    assert resp.status_code == 403 and resp.json()["code"] == "no_role"
    with runtime.store.session() as s:
        assert s.scalar(select(ConsoleUser).where(ConsoleUser.username == "s@example.com")) is None


def _states(runtime: Runtime) -> int:
    with runtime.store.session() as s:
        return len(s.scalars(select(OidcLoginState)).all())


def test_unauthenticated_sign_in_starts_cannot_grow_the_state_table(
    web: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 14: every GET /auth/oidc/login wrote a state row that was never purged."""
    for _ in range(3):
        assert web.get("/auth/oidc/login", follow_redirects=False).status_code == 302
    assert _states(runtime) == 3
    assert isinstance(runtime.clock, FixedClock)
    runtime.clock.advance(seconds=11 * 60)  # past the state lifetime
    assert web.get("/auth/oidc/login", follow_redirects=False).status_code == 302
    assert _states(runtime) == 1
    monkeypatch.setattr(oidc, "STATE_CAP", 3)
    for _ in range(5):
        assert web.get("/auth/oidc/login", follow_redirects=False).status_code == 302
    assert _states(runtime) == 3


def test_a_sign_in_started_before_a_purge_still_completes(
    web: TestClient, provider: LoopbackOidcProvider, runtime: Runtime
) -> None:
    callback = _to_callback(web, provider)  # its state row is pending
    assert isinstance(runtime.clock, FixedClock)
    runtime.clock.advance(seconds=5 * 60)
    with TestClient(web.app, base_url="https://rf.example") as other:
        assert other.get("/auth/oidc/login", follow_redirects=False).status_code == 302
    assert web.get(callback, follow_redirects=False).status_code == 303
