"""Session 12: removing someone from an IdP group by SCIM takes their console role at once.

Repro before the fix: SSO users' roles come from the ID token's groups at sign-in only. The
IdP pushing "alice left rf-analysts" by SCIM changed the group and nothing else: her open
console session (up to SESSION_TTL_MINUTES) and her personal tokens (up to a year) kept the
role until she signed in again. Now the roles that group granted, and no SCIM group she is
still in grants, are removed from her SSO console users in the same write; left with no
role, her sessions and tokens are revoked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from ringfence.identity.accounts import Accounts
from ringfence.identity.models import ConsoleUser
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime
from ringfence.store.models import AuditRecord

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTRA_OID = "3f1c1a52-0c8e-4a57-9a5b-3a0d2b8f8e11"
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def identity_settings() -> IdentitySettings:
    return IdentitySettings(
        cookie_secure=True,
        delay_base_seconds=0,
        oidc_group_roles={
            "rf-admins": ["admin"],
            "rf-analysts": ["security-analyst"],
            "rf-ops": ["security-analyst"],
            ENTRA_OID: ["auditor"],  # Entra: the group's object id, SCIM externalId
        },
        mfa_required_roles=["admin"],  # analysts without MFA: this is about group removal
    )


@pytest.fixture
def accounts(app: FastAPI, runtime: Runtime, identity_settings: IdentitySettings) -> Accounts:
    app.state.password_hasher = CHEAP
    return Accounts(runtime.store, runtime.vault, runtime.clock, identity_settings, CHEAP)


def _person(scim: TestClient, name: str) -> str:
    created = scim.post("/scim/v2/Users", json={"schemas": [USER], "userName": name})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _sso_user(runtime: Runtime, accounts: Accounts, name: str, roles: list[str]) -> str:
    user = accounts.create_user(name, roles=roles, password=None)
    with runtime.store.session() as s:
        row = s.get(ConsoleUser, user.id)
        assert row is not None and row.person_id is not None  # linked by SCIM userName
        row.sso_subject = f"https://idp.example|{name}"
        row.username_source = "sso_email"
    return user.id


def _group(scim: TestClient, name: str, members: list[str], external_id: str = "") -> str:
    doc: dict[str, Any] = {
        "schemas": [GROUP],
        "displayName": name,
        "members": [{"value": m} for m in members],
    }
    if external_id:
        doc["externalId"] = external_id
    created = scim.post("/scim/v2/Groups", json=doc)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _remove_member(scim: TestClient, gid: str, member: str) -> None:
    op = {"op": "remove", "path": f'members[value eq "{member}"]'}
    resp = scim.patch(f"/scim/v2/Groups/{gid}", json={"schemas": [PATCH], "Operations": [op]})
    assert resp.status_code == 200, resp.text


@pytest.fixture
def browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://rf.example") as client:
        yield client


def _signed_in(browser: TestClient, accounts: Accounts, user_id: str) -> None:
    token = accounts.create_session(user_id, mfa_passed=True, method="oidc")
    browser.cookies.set("__Host-rf_session", token.get_secret_value(), domain="rf.example")


def test_group_removal_takes_the_role_from_a_live_session_and_tokens(
    scim: TestClient, accounts: Accounts, runtime: Runtime, browser: TestClient
) -> None:
    alice = _person(scim, "alice@example.com")
    uid = _sso_user(runtime, accounts, "alice@example.com", ["security-analyst", "auditor"])
    analysts = _group(scim, "rf-analysts", [alice])
    auditors = _group(scim, "Auditors", [alice], external_id=ENTRA_OID)
    _signed_in(browser, accounts, uid)
    pat = accounts.issue_token(uid, "ci", ["read", "write"], 30, actor="test")
    bearer = {"Authorization": f"Bearer {pat.token.get_secret_value()}"}
    assert sorted(browser.get("/api/v1/identity/me").json()["roles"]) == [
        "auditor",
        "security-analyst",
    ]

    _remove_member(scim, analysts, alice)
    # at once, in the same session: the analyst role is gone, the auditor one stays
    me = browser.get("/api/v1/identity/me")
    assert me.status_code == 200 and me.json()["roles"] == ["auditor"]
    assert browser.get("/api/v1/identity/findings").status_code == 200  # read: still there
    assert browser.post("/api/v1/identity/lifecycle/reconcile").status_code == 403
    assert browser.post("/api/v1/people", json={"email": "x@example.com"}).status_code == 403
    with runtime.store.session() as s:
        (record,) = s.scalars(
            select(AuditRecord).where(
                AuditRecord.action == "user.roles", AuditRecord.entity_id == uid
            )
        ).all()
        assert record.actor.startswith("scim:")
        assert record.after["reason"] == "removed from IdP group 'rf-analysts'"

    # the last mapped group goes (deleted): no role left, session and tokens end
    assert scim.delete(f"/scim/v2/Groups/{auditors}").status_code == 204
    assert accounts.get_user(uid).roles == []
    assert browser.get("/api/v1/identity/me").status_code == 401
    assert browser.get("/api/v1/integrations", headers=bearer).status_code == 401


def test_a_role_another_group_still_grants_stays_and_local_accounts_are_untouched(
    scim: TestClient, accounts: Accounts, runtime: Runtime
) -> None:
    bob = _person(scim, "bob@example.com")
    carol = _person(scim, "carol@example.com")
    bob_id = _sso_user(runtime, accounts, "bob@example.com", ["security-analyst"])
    # carol's console account is local: an administrator gave her the role
    carol_id = accounts.create_user("carol@example.com", roles=["security-analyst"]).id
    analysts = _group(scim, "rf-analysts", [bob, carol])
    _group(scim, "rf-ops", [bob])
    _remove_member(scim, analysts, bob)
    _remove_member(scim, analysts, carol)
    assert accounts.get_user(bob_id).roles == ["security-analyst"]  # rf-ops grants it too
    assert accounts.get_user(carol_id).roles == ["security-analyst"]
    # adding someone to a group grants nothing before their next sign-in
    dave = _person(scim, "dave@example.com")
    dave_id = _sso_user(runtime, accounts, "dave@example.com", ["auditor"])
    add = {"op": "add", "path": "members", "value": [{"value": dave}]}
    assert (
        scim.patch(
            f"/scim/v2/Groups/{analysts}", json={"schemas": [PATCH], "Operations": [add]}
        ).status_code
        == 200
    )
    assert accounts.get_user(dave_id).roles == ["auditor"]


def test_renaming_a_group_and_nested_groups(
    scim: TestClient, accounts: Accounts, runtime: Runtime
) -> None:
    erin = _person(scim, "erin@example.com")
    frank = _person(scim, "frank@example.com")
    erin_id = _sso_user(runtime, accounts, "erin@example.com", ["security-analyst"])
    frank_id = _sso_user(runtime, accounts, "frank@example.com", ["admin"])
    analysts = _group(scim, "rf-analysts", [erin])
    renamed = scim.put(
        f"/scim/v2/Groups/{analysts}",
        json={"schemas": [GROUP], "displayName": "former-analysts", "members": [{"value": erin}]},
    )
    assert renamed.status_code == 200, renamed.text
    assert accounts.get_user(erin_id).roles == []  # the group no longer maps to a role

    team = _group(scim, "platform-team", [frank])
    admins = _group(scim, "rf-admins", [team])  # frank is an admin through a nested group
    _remove_member(scim, admins, team)
    assert accounts.get_user(frank_id).roles == []


def test_bad_group_writes_change_no_role(
    scim: TestClient, accounts: Accounts, runtime: Runtime
) -> None:
    gina = _person(scim, "gina@example.com")
    gina_id = _sso_user(runtime, accounts, "gina@example.com", ["security-analyst"])
    analysts = _group(scim, "rf-analysts", [gina])
    bad_ops: list[Any] = [
        {"op": "remove", "path": 'members[value eq "nobody"'},
        {"op": "explode", "path": "members"},
        {"op": "replace", "path": "members", "value": [{"value": "not-a-user"}]},
    ]
    for op in bad_ops:
        resp = scim.patch(
            f"/scim/v2/Groups/{analysts}", json={"schemas": [PATCH], "Operations": [op]}
        )
        assert resp.status_code == 400, resp.text
        assert resp.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert accounts.get_user(gina_id).roles == ["security-analyst"]
