"""Review 9: an analyst deprovisions people, but cannot lock out administrators or colleagues
by inventing a person with their username."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from ringfence.identity.accounts import Accounts
from ringfence.identity.models import ConsoleSession
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime
from ringfence.store import audit
from ringfence.store.models import AuditRecord

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
PASSWORD = "correct horse battery"


@pytest.fixture
def accounts(app: FastAPI, runtime: Runtime) -> Accounts:
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    app.state.password_hasher = cheap
    return Accounts(runtime.store, runtime.vault, runtime.clock, IdentitySettings(), cheap)


@pytest.fixture
def analyst(app: FastAPI, accounts: Accounts) -> Iterator[TestClient]:
    accounts.create_user("ana@example.com", roles=["security-analyst"], password=PASSWORD)
    with TestClient(app, base_url="https://rf.example") as web:
        login = web.post("/auth/login", json={"username": "ana@example.com", "password": PASSWORD})
        assert login.status_code == 200, login.text
        web.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        yield web


def test_an_analyst_cannot_disable_an_admin_through_an_invented_person(
    analyst: TestClient, accounts: Accounts, runtime: Runtime
) -> None:
    """Finding 10: POST /api/v1/people {"email": <admin's username>} then deactivating that
    person linked the admin's console user (by username) and disabled it."""
    root = accounts.create_user("root@example.com", roles=["admin"], password=PASSWORD)
    carl = accounts.create_user("carl@example.com", roles=["security-analyst"], password=PASSWORD)
    accounts.create_session(root.id, mfa_passed=True, method="password")
    for victim in ("root@example.com", "carl@example.com"):
        made = analyst.post("/api/v1/people", json={"email": victim, "name": "x"})
        assert made.status_code == 201, made.text
        gone = analyst.post(f"/api/v1/identity/people/{victim}/deactivate")
        assert gone.status_code == 200, gone.text
    for user in (root, carl):
        after = accounts.get_user(user.id)
        assert after.disabled_at is None and after.person_id is None
    with runtime.store.session() as s:
        assert all(x.revoked_at is None for x in s.scalars(select(ConsoleSession)))


def test_deprovisioning_an_admins_person_needs_an_admin_or_the_idp(
    analyst: TestClient, accounts: Accounts, runtime: Runtime, scim: TestClient
) -> None:
    """An administrator linked to a person the IdP provisioned: an analyst's deactivation of
    that person leaves the admin account for an administrator (audited); the IdP's own
    deactivation (SCIM) disables it."""
    created = scim.post("/scim/v2/Users", json={"schemas": [USER], "userName": "root@example.com"})
    assert created.status_code == 201
    root = accounts.create_user("root@example.com", roles=["admin"], password=PASSWORD)
    assert root.person_id == created.json()["id"]
    assert analyst.post("/api/v1/identity/people/root@example.com/deactivate").status_code == 200
    assert accounts.get_user(root.id).disabled_at is None
    with runtime.store.session() as s:
        refused = s.scalars(
            select(AuditRecord).where(AuditRecord.action == "user.disable_refused")
        ).all()
        assert [r.entity_id for r in refused] == [root.id]
    # a reconcile by the analyst does not keep picking the person up for the admin
    assert analyst.post("/api/v1/identity/lifecycle/reconcile").json()["people"] == []
    op = {"op": "replace", "path": "active", "value": False}
    uid = created.json()["id"]
    # the person is already inactive; the IdP's explicit active=false still deprovisions
    resp = scim.patch(f"/scim/v2/Users/{uid}", json={"schemas": [PATCH], "Operations": [op]})
    assert resp.status_code == 200, resp.text
    assert accounts.get_user(root.id).disabled_at is not None
    assert audit.verify(runtime.store).ok
