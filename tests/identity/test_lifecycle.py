"""Deprovisioning reaches the doors a person owns: findings, quarantine, reassignment."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select

from ringfence.core.errors import NotFoundError, ValidationError
from ringfence.identity import lifecycle
from ringfence.identity.models import IdentityFinding
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime
from ringfence.store import audit
from ringfence.store.db import Store
from ringfence.store.models import Integration, IntegrationStatus, Person

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def _status(runtime: Runtime, integ_id: str) -> IntegrationStatus:
    with runtime.store.session() as s:
        integ = s.get(Integration, integ_id)
        assert integ is not None
        return integ.status


def _provision_alice(scim: TestClient) -> str:
    resp = scim.post(
        "/scim/v2/Users",
        json={"schemas": [USER], "userName": "alice@example.com", "active": True},
    )
    assert resp.status_code == 201, resp.text
    uid: str = resp.json()["id"]
    return uid


def test_scim_deactivation_quarantines_owned_integrations_and_opens_findings(
    scim: TestClient, runtime: Runtime, estate: dict[str, str]
) -> None:
    uid = _provision_alice(scim)
    assert uid == estate["alice"]
    resp = scim.patch(
        f"/scim/v2/Users/{uid}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": False}],
        },
    )
    assert resp.status_code == 200
    assert _status(runtime, estate["sync"]) == IntegrationStatus.QUARANTINED
    assert _status(runtime, estate["job"]) == IntegrationStatus.QUARANTINED
    with runtime.store.session() as s:
        found = lifecycle.open_findings(s, person_id=uid)
        assert {f.integration_id for f in found} == {estate["sync"], estate["job"]}
        assert all(f.kind == "owner_deprovisioned" and f.severity == "high" for f in found)
    assert audit.verify(runtime.store).ok
    # a second deactivation (Entra's DELETE after active=false) opens no duplicate finding
    assert scim.delete(f"/scim/v2/Users/{uid}").status_code == 204
    with runtime.store.session() as s:
        assert len(lifecycle.open_findings(s, person_id=uid)) == 2
    # reassigning one integration resolves its finding and lifts its quarantine only
    with runtime.store.session() as s:
        lifecycle.reassign_owner(
            s, estate["sync"], estate["bob"], actor="user:admin", clock=runtime.clock
        )
    assert _status(runtime, estate["sync"]) == IntegrationStatus.ACTIVE
    assert _status(runtime, estate["job"]) == IntegrationStatus.QUARANTINED
    with runtime.store.session() as s:
        assert [f.integration_id for f in lifecycle.open_findings(s)] == [estate["job"]]


def test_policy_off_flags_without_quarantining(
    app: Any, scim: TestClient, runtime: Runtime, estate: dict[str, str]
) -> None:
    app.state.identity_settings = IdentitySettings(quarantine_on_deprovision=False)
    uid = _provision_alice(scim)
    assert scim.delete(f"/scim/v2/Users/{uid}").status_code == 204
    assert _status(runtime, estate["sync"]) == IntegrationStatus.ACTIVE
    with runtime.store.session() as s:
        assert len(lifecycle.open_findings(s, person_id=uid)) == 2


def test_manual_quarantine_is_not_lifted_by_reassignment(
    runtime: Runtime, estate: dict[str, str]
) -> None:
    with runtime.store.session() as s:
        integ = s.get(Integration, estate["job"])
        assert integ is not None
        integ.status = IntegrationStatus.QUARANTINED  # an analyst's decision, not ours
        person = s.get(Person, estate["alice"])
        assert person is not None
        lifecycle.deactivate_person(s, person, actor="t", clock=runtime.clock, quarantine=True)
    with runtime.store.session() as s:
        lifecycle.reassign_owner(s, estate["job"], estate["bob"], actor="t", clock=runtime.clock)
    assert _status(runtime, estate["job"]) == IntegrationStatus.QUARANTINED
    assert _status(runtime, estate["sync"]) == IntegrationStatus.QUARANTINED


def test_reassign_refuses_inactive_or_unknown_owner(
    runtime: Runtime, estate: dict[str, str]
) -> None:
    with runtime.store.session() as s:
        bob = s.get(Person, estate["bob"])
        assert bob is not None
        bob.active = False
    with pytest.raises(ValidationError), runtime.store.session() as s:
        lifecycle.reassign_owner(s, estate["job"], estate["bob"], actor="t", clock=runtime.clock)
    with pytest.raises(NotFoundError), runtime.store.session() as s:
        lifecycle.reassign_owner(s, estate["job"], "nobody", actor="t", clock=runtime.clock)
    with pytest.raises(NotFoundError), runtime.store.session() as s:
        lifecycle.reassign_owner(s, "nothing", estate["bob"], actor="t", clock=runtime.clock)


def test_identity_migration_runs_on_sqlite_and_postgresql(store: Store) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert {
        "identity_scim_users",
        "identity_scim_groups",
        "identity_scim_group_members",
        "identity_scim_tokens",
        "identity_users",
        "identity_sessions",
        "identity_personal_tokens",
        "identity_recovery_codes",
        "identity_oidc_states",
        "identity_findings",
        "identity_review_campaigns",
        "identity_review_items",
    } <= tables
    assert store.is_migrated()
    with store.session() as s:
        assert s.scalars(select(IdentityFinding)).all() == []


def test_reconcile_reaches_people_deactivated_outside_identity(
    runtime: Runtime, estate: dict[str, str]
) -> None:
    with runtime.store.session() as s:
        alice = s.get(Person, estate["alice"])
        assert alice is not None
        alice.active = False  # e.g. PATCH /api/v1/people/{ref} or `ringfence apply`
    assert _status(runtime, estate["sync"]) == IntegrationStatus.ACTIVE
    with runtime.store.session() as s:
        reports = lifecycle.reconcile(s, actor="t", clock=runtime.clock, quarantine=True)
        assert [r.person_id for r in reports] == [estate["alice"]]
    assert _status(runtime, estate["sync"]) == IntegrationStatus.QUARANTINED
    with runtime.store.session() as s:
        assert lifecycle.reconcile(s, actor="t", clock=runtime.clock, quarantine=True) == []
        assert len(lifecycle.open_findings(s)) == 2


SCIM_PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _set_active(scim: TestClient, uid: str, active: bool) -> None:
    op = {"op": "replace", "path": "active", "value": active}
    resp = scim.patch(
        f"/scim/v2/Users/{uid}",
        json={"schemas": [SCIM_PATCH], "Operations": [op]},
        headers={"Content-Type": "application/scim+json"},
    )
    assert resp.status_code == 200, resp.text


def test_deprovisioning_reaches_a_console_user_created_before_the_person(
    runtime: Runtime, identity_settings: IdentitySettings, scim: TestClient, app: Any
) -> None:
    """Review finding: a console user made before SCIM provisioned the person (the usual
    roll-out) was never linked, so deprovisioning left its password and tokens working."""
    from argon2 import PasswordHasher

    from ringfence.identity.accounts import Accounts

    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    app.state.password_hasher = cheap
    accounts = Accounts(runtime.store, runtime.vault, runtime.clock, identity_settings, cheap)
    user = accounts.create_user(
        "bob@example.com", roles=["security-analyst"], password="correct horse battery"
    )
    assert user.person_id is None  # no person yet
    pat = accounts.issue_token(user.id, "ci", ["read"], 365, actor="test")
    created = scim.post(
        "/scim/v2/Users",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "bob@example.com",
            "emails": [{"value": "Bob@Example.com", "primary": True}],
        },
        headers={"Content-Type": "application/scim+json"},
    )
    assert created.status_code == 201, created.text
    uid = created.json()["id"]
    assert accounts.get_user("bob@example.com").person_id == uid  # linked at provisioning
    _set_active(scim, uid, False)
    assert accounts.get_user("bob@example.com").disabled_at is not None
    with TestClient(app, base_url="https://rf.example") as web:
        bearer = {"Authorization": f"Bearer {pat.token.get_secret_value()}"}
        assert web.get("/api/v1/integrations", headers=bearer).status_code == 401
        login = {"username": "bob@example.com", "password": "correct horse battery"}
        assert web.post("/auth/login", json=login).status_code == 401
    # reactivated: the account deprovisioning disabled comes back
    _set_active(scim, uid, True)
    assert accounts.get_user("bob@example.com").disabled_at is None


def test_reactivation_leaves_an_account_an_administrator_disabled_disabled(
    runtime: Runtime, identity_settings: IdentitySettings, scim: TestClient
) -> None:
    """Review finding: a SCIM reactivation re-enabled every linked console user, also one an
    administrator had locked on purpose."""
    from ringfence.identity.accounts import Accounts

    uid = _provision_alice(scim)
    accounts = Accounts(runtime.store, runtime.vault, runtime.clock, identity_settings)
    eve = accounts.create_user("alice@example.com", roles=["security-analyst"])
    assert eve.person_id == uid
    accounts.set_disabled(eve.id, True, actor="user:admin")
    _set_active(scim, uid, False)
    _set_active(scim, uid, True)
    assert accounts.get_user("alice@example.com").disabled_at is not None  # still the admin's
    accounts.set_disabled(eve.id, False, actor="user:admin")
    assert accounts.get_user("alice@example.com").disabled_at is None
