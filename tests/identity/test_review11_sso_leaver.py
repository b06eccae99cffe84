"""Review 11: a person the IdP deprovisioned before their first SSO sign-in gets no account.

Deprovisioning disables the console accounts that exist at that moment. Before, an IdP that
still issued an ID token to the leaver (Entra with "assignment required" off: unassigning the
user sends SCIM active=false, sign-in still works) made a fresh account, linked to the
deactivated person, with a session and the roles of the groups the leaver was still in."""

# ruff: noqa: F811  (the SSO fixtures of test_oidc are imported, then requested by name)
from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ringfence.identity.models import ConsoleSession, ConsoleUser
from ringfence.runtime import Runtime
from tests.identity.oidc_provider import OMIT, LoopbackOidcProvider
from tests.identity.test_oidc import _to_callback, provider, sso_app, web  # noqa: F401

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _provision_then_deprovision(scim: TestClient, user_name: str, mail: str) -> str:
    created = scim.post(
        "/scim/v2/Users",
        json={
            "schemas": [USER],
            "userName": user_name,
            "emails": [{"type": "work", "value": mail, "primary": True}],
            "active": True,
        },
    )
    assert created.status_code == 201, created.text
    uid: str = created.json()["id"]
    op = {"op": "replace", "path": "active", "value": False}
    off = scim.patch(f"/scim/v2/Users/{uid}", json={"schemas": [PATCH], "Operations": [op]})
    assert off.status_code == 200, off.text
    return uid


def _accounts_and_sessions(runtime: Runtime) -> tuple[int, int]:
    with runtime.store.session() as s:
        users = s.scalar(select(func.count()).select_from(ConsoleUser)) or 0
        sessions = s.scalar(select(func.count()).select_from(ConsoleSession)) or 0
        return users, sessions


def test_a_leaver_with_a_verified_email_gets_no_new_account(
    web: TestClient, provider: LoopbackOidcProvider, runtime: Runtime, scim: TestClient
) -> None:
    _provision_then_deprovision(scim, "ann@example.com", "ann@example.com")
    provider.claims = {
        "sub": "00u-ann",
        "email": "ann@example.com",
        "groups": ["rf-analysts"],
        "amr": ["mfa"],
    }
    resp = web.get(_to_callback(web, provider), follow_redirects=False)
    assert resp.status_code == 401, resp.text
    assert resp.json()["code"] == "disabled"
    assert _accounts_and_sessions(runtime) == (0, 0)
    assert web.get("/api/v1/identity/me").status_code == 401


def test_a_leaver_named_only_by_an_unverified_upn_gets_no_new_account(
    web: TestClient, provider: LoopbackOidcProvider, runtime: Runtime, scim: TestClient
) -> None:
    """Entra's defaults: no email_verified, preferred_username = UPN = SCIM userName."""
    _provision_then_deprovision(scim, "jdoe@corp.example", "john.doe@example.com")
    provider.claims = {
        "sub": "entra-pairwise-sub",
        "email": "john.doe@example.com",
        "email_verified": OMIT,
        "preferred_username": "jdoe@corp.example",
        "groups": ["rf-analysts"],
        "amr": ["pwd", "mfa"],
    }
    resp = web.get(_to_callback(web, provider), follow_redirects=False)
    assert resp.status_code == 401, resp.text
    assert _accounts_and_sessions(runtime) == (0, 0)


def test_an_active_person_and_a_returning_leaver_still_sign_in(
    web: TestClient, provider: LoopbackOidcProvider, runtime: Runtime, scim: TestClient
) -> None:
    uid = _provision_then_deprovision(scim, "bob@example.com", "bob@example.com")
    on = {"op": "replace", "path": "active", "value": True}
    back = scim.patch(f"/scim/v2/Users/{uid}", json={"schemas": [PATCH], "Operations": [on]})
    assert back.status_code == 200, back.text
    provider.claims = {
        "sub": "00u-bob",
        "email": "bob@example.com",
        "groups": ["rf-analysts"],
        "amr": ["mfa"],
    }
    resp = web.get(_to_callback(web, provider), follow_redirects=False)
    assert resp.status_code == 303, resp.text
    assert web.get("/api/v1/identity/me").json()["person_id"] == uid
