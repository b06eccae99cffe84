"""Session 12: an IdP push cannot undo an emergency deactivation made in Ringfence.

Repro before the fix: a responder deactivated a person (`POST /api/v1/identity/people/{ref}/
deactivate`, `ringfence users deactivate-person`); the IdP, which still had them active, sent
its next SCIM PATCH/PUT with ``active: true`` and the person, their console accounts and their
integrations were reactivated. Now a local deactivation is a hold: the SCIM write answers 200
with ``active: false``, the refusal is audited, and only a person with identity:lifecycle lifts
it, with a reason."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from ringfence.cli import main
from ringfence.identity.accounts import Accounts
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime
from ringfence.store.db import Store
from ringfence.store.models import AuditRecord, Integration, IntegrationStatus, Person

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


def _provision(scim: TestClient, accounts: Accounts) -> tuple[str, str]:
    created = scim.post("/scim/v2/Users", json={"schemas": [USER], "userName": "alice@example.com"})
    assert created.status_code == 201, created.text
    user = accounts.create_user("alice@example.com", roles=["auditor"], password=PASSWORD)
    assert user.person_id == created.json()["id"]
    return created.json()["id"], user.id


def _patch_active(scim: TestClient, uid: str, value: bool) -> Any:
    op = {"op": "replace", "value": {"active": value}}
    return scim.patch(f"/scim/v2/Users/{uid}", json={"schemas": [PATCH], "Operations": [op]})


def _active(runtime: Runtime, pid: str) -> bool:
    with runtime.store.session() as s:
        person = s.get(Person, pid)
        assert person is not None
        return person.active


def _statuses(runtime: Runtime, ids: list[str]) -> set[IntegrationStatus]:
    with runtime.store.session() as s:
        return {i.status for i in s.scalars(select(Integration).where(Integration.id.in_(ids)))}


def _actions(runtime: Runtime, action: str) -> list[AuditRecord]:
    with runtime.store.session() as s:
        return list(s.scalars(select(AuditRecord).where(AuditRecord.action == action)))


def test_idp_push_does_not_undo_an_emergency_deactivation(
    analyst: TestClient,
    accounts: Accounts,
    scim: TestClient,
    runtime: Runtime,
    estate: dict[str, str],
) -> None:
    uid, console_id = _provision(scim, accounts)
    for bad in ({"reason": 5}, {"reason": "x", "extra": 1}, ["x"]):
        refused = analyst.post("/api/v1/identity/people/alice@example.com/deactivate", json=bad)
        assert refused.status_code in (400, 422), refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert _active(runtime, uid)
    gone = analyst.post(
        "/api/v1/identity/people/alice@example.com/deactivate",
        json={"reason": "INC-42: token leaked"},
    )
    assert gone.status_code == 200, gone.text
    integrations = [estate["sync"], estate["job"]]
    assert _statuses(runtime, integrations) == {IntegrationStatus.QUARANTINED}

    # the IdP still has her active: PATCH and PUT with active=true
    patched = _patch_active(scim, uid, True)
    assert patched.status_code == 200, patched.text
    assert patched.json()["active"] is False  # a valid SCIM answer, showing what holds
    put = scim.put(
        f"/scim/v2/Users/{uid}",
        json={"schemas": [USER], "userName": "alice@example.com", "active": True},
    )
    assert put.status_code == 200 and put.json()["active"] is False
    assert scim.get(f"/scim/v2/Users/{uid}").json()["active"] is False
    assert not _active(runtime, uid)
    assert accounts.get_user(console_id).disabled_at is not None
    assert _statuses(runtime, integrations) == {IntegrationStatus.QUARANTINED}
    refused = _actions(runtime, "person.reactivate_refused")
    assert len(refused) == 2 and refused[0].actor.startswith("scim:")
    assert refused[0].after["held_by"] == "user:ana@example.com"
    assert refused[0].after["reason"] == "INC-42: token leaked"
    # a re-provisioning (DELETE then POST adopting the same email) does not lift it either
    assert scim.delete(f"/scim/v2/Users/{uid}").status_code == 204
    again = scim.post(
        "/scim/v2/Users",
        json={"schemas": [USER], "userName": "alice@example.com", "active": True},
    )
    assert again.status_code == 201 and again.json()["active"] is False
    assert not _active(runtime, uid)


def test_lifting_the_hold_needs_a_reason_and_is_recorded(
    analyst: TestClient,
    accounts: Accounts,
    scim: TestClient,
    runtime: Runtime,
    estate: dict[str, str],
) -> None:
    from ringfence.identity.models import PersonHold

    uid, console_id = _provision(scim, accounts)
    assert analyst.post("/api/v1/identity/people/alice@example.com/deactivate").status_code == 200
    with runtime.store.session() as s:
        hold = s.get(PersonHold, uid)
        assert hold is not None and hold.held_by == "user:ana@example.com"

    no_reason = analyst.post("/api/v1/identity/people/alice@example.com/reactivate")
    assert no_reason.status_code == 400
    assert no_reason.headers["content-type"].startswith("application/problem+json")
    assert no_reason.json()["code"] == "hold_reason_required"
    bad = analyst.post("/api/v1/identity/people/alice@example.com/reactivate", json={"reason": 5})
    assert bad.status_code in (400, 422) and "problem+json" in bad.headers["content-type"]

    assert not _active(runtime, uid)

    lifted = analyst.post(
        "/api/v1/identity/people/alice@example.com/reactivate",
        json={"reason": "INC-42 closed, password reset"},
    )
    assert lifted.status_code == 200, lifted.text
    assert _active(runtime, uid) and accounts.get_user(console_id).disabled_at is None
    (record,) = _actions(runtime, "person.hold_lift")
    assert record.actor == "user:ana@example.com"
    assert record.after == {"reason": "INC-42 closed, password reset"}
    assert record.before["held_by"] == "user:ana@example.com"
    with runtime.store.session() as s:
        assert s.get(PersonHold, uid) is None
    # the IdP is in charge again
    assert _patch_active(scim, uid, False).json()["active"] is False
    assert _patch_active(scim, uid, True).json()["active"] is True


def test_the_idps_own_deactivation_is_not_a_hold(
    accounts: Accounts, scim: TestClient, runtime: Runtime
) -> None:
    uid, _ = _provision(scim, accounts)
    assert _patch_active(scim, uid, False).json()["active"] is False
    assert _patch_active(scim, uid, True).json()["active"] is True  # a rehire
    assert _active(runtime, uid)
    assert not _actions(runtime, "person.hold")


def test_cli_deactivation_holds_and_reactivate_person_lifts_it(
    accounts: Accounts,
    scim: TestClient,
    runtime: Runtime,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RINGFENCE_STORE_URL", runtime.settings.resolved_store_url)

    def run(argv: list[str]) -> tuple[int, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(""))
        try:
            main(argv)
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out + err

    uid, _ = _provision(scim, accounts)
    code, text = run(["users", "deactivate-person", "alice@example.com", "-m", "phished"])
    assert code == 0, text
    assert _patch_active(scim, uid, True).json()["active"] is False
    code, text = run(["users", "reactivate-person", "alice@example.com"])
    assert code == 1 and "give a reason" in text and "Traceback" not in text
    assert not _active(runtime, uid)
    code, text = run(["users", "reactivate-person", "alice@example.com", "-m", "cleared"])
    assert code == 0, text
    assert _active(runtime, uid)
    code, text = run(["users", "reactivate-person", "nobody@example.com", "-m", "x" * 5])
    assert code != 0 and "Traceback" not in text


def test_a_held_service_account_keeps_its_machine_identity_quarantined(
    analyst: TestClient, scim: TestClient, runtime: Runtime
) -> None:
    doc = {"schemas": [USER], "userName": "svc-sync", "userType": "ServiceAccount"}
    created = scim.post("/scim/v2/Users", json=doc)
    assert created.status_code == 201, created.text
    uid = created.json()["id"]
    assert analyst.post(f"/api/v1/identity/people/{uid}/deactivate").status_code == 200
    assert _patch_active(scim, uid, False).status_code == 200
    assert scim.put(f"/scim/v2/Users/{uid}", json={**doc, "active": True}).json()["active"] is False
    with runtime.store.session() as s:
        machine = s.scalars(select(Integration).where(Integration.name.contains("svc-sync"))).all()
        assert machine and all(m.status == IntegrationStatus.QUARANTINED for m in machine)


def test_hold_on_sqlite_and_postgresql(store: Store) -> None:
    """The hold table (migration 0016_identity_person_holds) on both engines, and its
    downgrade: place, refuse the IdP, lift with a reason."""
    from ringfence.core.clock import FixedClock
    from ringfence.identity import lifecycle
    from ringfence.identity.models import PersonHold

    clock = FixedClock()
    with store.session() as s:
        person = Person(email="held@example.com", name="Held")
        s.add(person)
        s.flush()
        lifecycle.deactivate_person(
            s, person, actor="cli", clock=clock, quarantine=True, hold_reason="x" * 3000
        )
        pid = person.id
    with store.session() as s:
        person = s.get(Person, pid)
        assert person is not None
        assert lifecycle.reactivate_person(s, person, actor="scim:okta", clock=clock) == 0
        assert not person.active
        hold = s.get(PersonHold, pid)
        assert hold is not None and len(hold.reason) == 2000
    with store.session() as s:
        person = s.get(Person, pid)
        assert person is not None
        lifecycle.reactivate_person(s, person, actor="cli", clock=clock, lift_reason="cleared")
    with store.session() as s:
        person = s.get(Person, pid)
        assert person is not None and person.active and s.get(PersonHold, pid) is None


def test_a_console_user_disabled_here_stays_disabled_through_the_idp_with_its_reason(
    analyst: TestClient, accounts: Accounts, scim: TestClient, runtime: Runtime
) -> None:
    """The other local lock: an administrator disables the console user (not the person).
    SCIM deactivation and reactivation of the person never re-enable it; why is recorded."""
    uid, console_id = _provision(scim, accounts)
    root = accounts.create_user("root@example.com", roles=["admin"], password=PASSWORD)
    accounts.set_disabled(console_id, True, actor=f"user:{root.username}", reason="INC-7")
    assert _patch_active(scim, uid, False).status_code == 200
    assert _patch_active(scim, uid, True).json()["active"] is True  # the person: the IdP's
    user = accounts.get_user(console_id)
    assert user.disabled_at is not None and user.disabled_reason == "admin"
    (record,) = [r for r in _actions(runtime, "user.disable") if r.actor == "user:root@example.com"]
    assert record.after == {"reason": "INC-7"}
    # bad input on the API's PATCH is a 4xx problem, not a 500
    assert analyst.patch(
        f"/api/v1/identity/users/{console_id}", json={"disabled": True, "reason": 7}
    ).status_code in (403, 422)
