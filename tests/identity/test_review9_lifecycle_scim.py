"""Review 9: SCIM writes never reactivate a leaver by omission, keep machine identities in
step with their account, and refuse values the rest of Ringfence cannot use."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from ringfence.runtime import Runtime
from ringfence.store.models import Integration, IntegrationStatus, Person

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _patch(scim: TestClient, uid: str, *ops: dict[str, object]) -> dict[str, object]:
    resp = scim.patch(f"/scim/v2/Users/{uid}", json={"schemas": [PATCH], "Operations": list(ops)})
    assert resp.status_code == 200, resp.text
    body: dict[str, object] = resp.json()
    return body


def _person_active(runtime: Runtime, uid: str) -> bool:
    with runtime.store.session() as s:
        person = s.get(Person, uid)
        assert person is not None
        return person.active


def _status(runtime: Runtime, integ_id: str) -> IntegrationStatus:
    with runtime.store.session() as s:
        integ = s.get(Integration, integ_id)
        assert integ is not None
        return integ.status


def test_leaving_out_active_never_reactivates_a_leaver(
    scim: TestClient, runtime: Runtime, estate: dict[str, str]
) -> None:
    """Finding 4: a PUT profile update without `active` (or PATCH remove active) turned a
    deactivated person active again and lifted the quarantine of her integrations."""
    doc = {"schemas": [USER], "userName": "alice@example.com", "active": True}
    uid = scim.post("/scim/v2/Users", json=doc).json()["id"]
    _patch(scim, uid, {"op": "replace", "path": "active", "value": False})
    assert _status(runtime, estate["sync"]) == IntegrationStatus.QUARANTINED

    profile = {"schemas": [USER], "userName": "alice@example.com", "displayName": "Alice (left)"}
    put = scim.put(f"/scim/v2/Users/{uid}", json=profile)
    assert put.status_code == 200, put.text
    assert put.json()["active"] is False and put.json()["displayName"] == "Alice (left)"
    assert not _person_active(runtime, uid)
    assert _status(runtime, estate["sync"]) == IntegrationStatus.QUARANTINED

    removed = _patch(scim, uid, {"op": "remove", "path": "active"})
    assert removed["active"] is False and not _person_active(runtime, uid)
    assert _status(runtime, estate["sync"]) == IntegrationStatus.QUARANTINED

    # an explicit true still reactivates
    back = scim.put(f"/scim/v2/Users/{uid}", json={**profile, "active": True})
    assert back.status_code == 200 and back.json()["active"] is True
    assert _person_active(runtime, uid)
    assert _status(runtime, estate["sync"]) == IntegrationStatus.ACTIVE


def test_a_new_user_without_active_is_active(scim: TestClient, runtime: Runtime) -> None:
    created = scim.post("/scim/v2/Users", json={"schemas": [USER], "userName": "new@example.com"})
    assert created.status_code == 201
    assert _person_active(runtime, created.json()["id"])
    # and an active user stays active through a PUT without it
    put = scim.put(
        f"/scim/v2/Users/{created.json()['id']}",
        json={"schemas": [USER], "userName": "new@example.com", "displayName": "New"},
    )
    assert put.status_code == 200 and _person_active(runtime, created.json()["id"])


def _machine_identity(runtime: Runtime, name: str) -> Integration:
    with runtime.store.session() as s:
        integ = s.scalar(select(Integration).where(Integration.name == f"scim-sa:{name}"))
        assert integ is not None
        return integ


def test_a_service_accounts_machine_identity_follows_it_without_usertype(
    scim: TestClient, runtime: Runtime
) -> None:
    """Finding 7: a PUT active=false without userType recomputed service_account as false,
    skipped the machine identity, and left it active at the gateway."""
    body = {"schemas": [USER], "userName": "bot-b", "userType": "ServiceAccount"}
    uid = scim.post("/scim/v2/Users", json=body).json()["id"]
    assert _machine_identity(runtime, "bot-b").status == IntegrationStatus.ACTIVE
    put = scim.put(
        f"/scim/v2/Users/{uid}", json={"schemas": [USER], "userName": "bot-b", "active": False}
    )
    assert put.status_code == 200, put.text
    assert _machine_identity(runtime, "bot-b").status == IntegrationStatus.QUARANTINED
    _patch(scim, uid, {"op": "replace", "path": "active", "value": True})
    assert _machine_identity(runtime, "bot-b").status == IntegrationStatus.ACTIVE
    assert scim.delete(f"/scim/v2/Users/{uid}").status_code == 204
    assert _machine_identity(runtime, "bot-b").status == IntegrationStatus.REVOKED
