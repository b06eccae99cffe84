"""An administrator's personal token limited to identity:lifecycle (an offboarding automation's
token) deprovisions people but cannot disable administrators: that needs identity:admin in the
token itself. Before, the decision came from the audit actor string ("user:<admin>"), so every
token an admin minted carried the owner's full power over other admins."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from ringfence.identity.accounts import Accounts
from ringfence.runtime import Runtime
from ringfence.store.models import AuditRecord
from tests.identity.test_review9_lifecycle_admins import PASSWORD, USER, accounts  # noqa: F401


def _admin_token(accounts: Accounts, scopes: list[str]) -> str:  # noqa: F811
    boss = accounts.create_user("boss@example.com", roles=["admin"], password=PASSWORD)
    with accounts._store.session() as s:  # MFA enrolled, as minting requires for an admin
        from ringfence.identity.models import ConsoleUser

        row = s.get(ConsoleUser, boss.id)
        assert row is not None
        row.totp_confirmed = True
    issued = accounts.issue_token(boss.id, "offboarding", scopes, 30, actor="test")
    return issued.token.get_secret_value()


def _bearer(app: FastAPI, token: str) -> TestClient:
    return TestClient(
        app, base_url="https://rf.example", headers={"Authorization": f"Bearer {token}"}
    )


def test_a_lifecycle_only_token_of_an_admin_cannot_disable_admins(
    app: FastAPI,
    accounts: Accounts,  # noqa: F811
    runtime: Runtime,
    scim: TestClient,
) -> None:
    created = scim.post("/scim/v2/Users", json={"schemas": [USER], "userName": "root@example.com"})
    assert created.status_code == 201
    root = accounts.create_user("root@example.com", roles=["admin"], password=PASSWORD)
    assert root.person_id == created.json()["id"]
    token = _admin_token(accounts, ["identity:lifecycle"])
    with _bearer(app, token) as auto:
        gone = auto.post("/api/v1/identity/people/root@example.com/deactivate")
        assert gone.status_code == 200, gone.text
        assert accounts.get_user(root.id).disabled_at is None  # before: disabled
        assert auto.post("/api/v1/identity/lifecycle/reconcile").json()["people"] == []
    assert accounts.get_user(root.id).disabled_at is None
    with runtime.store.session() as s:
        refused = s.scalars(
            select(AuditRecord).where(AuditRecord.action == "user.disable_refused")
        ).all()
        assert [r.entity_id for r in refused] == [root.id]


def test_a_token_holding_identity_admin_still_disables_admins(
    app: FastAPI,
    accounts: Accounts,  # noqa: F811
    scim: TestClient,
) -> None:
    created = scim.post("/scim/v2/Users", json={"schemas": [USER], "userName": "root@example.com"})
    assert created.status_code == 201
    root = accounts.create_user("root@example.com", roles=["admin"], password=PASSWORD)
    token = _admin_token(accounts, ["identity:lifecycle", "identity:admin"])
    with _bearer(app, token) as full:
        gone = full.post("/api/v1/identity/people/root@example.com/deactivate")
        assert gone.status_code == 200, gone.text
    assert accounts.get_user(root.id).disabled_at is not None
