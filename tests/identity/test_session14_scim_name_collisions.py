"""A SCIM service account's machine identity passes the inventory's name checks (session 14).

Lookups take "id or name", and the responder maps an alert's entity to an integration by name
or OAuth client id (bd02d0f refused such collisions in ringfence.yaml and the REST API). SCIM
created ``scim-sa:<userName>`` without those checks: next to an integration whose client_id
is ``scim-sa:bot``, an alert about either would quarantine whichever the database returned
first. Now the provisioning is refused with a SCIM 409 (scimType uniqueness) naming both, and
nothing of the user is stored."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ringfence.identity.models import ScimUser
from ringfence.runtime import Runtime
from ringfence.store.models import App, Integration, Person, Vendor

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def _decoy(runtime: Runtime, **values: Any) -> None:
    with runtime.store.session() as s:
        vendor = Vendor(name="Acme")
        s.add(vendor)
        s.flush()
        app = App(name="crm", vendor_id=vendor.id)
        s.add(app)
        s.flush()
        s.add(Integration(destination_app_id=app.id, **values))


def _counts(runtime: Runtime) -> tuple[int, int, int]:
    with runtime.store.session() as s:
        return (
            s.scalar(select(func.count()).select_from(Person)) or 0,
            s.scalar(select(func.count()).select_from(ScimUser)) or 0,
            s.scalar(select(func.count()).select_from(Integration)) or 0,
        )


def _refused(resp: Any, *words: str) -> None:
    assert resp.status_code == 409, resp.text
    body = resp.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["scimType"] == "uniqueness"
    for word in words:
        assert word in body["detail"], body["detail"]


def _service_account(name: str) -> dict[str, Any]:
    return {"schemas": [USER], "userName": name, "userType": "ServiceAccount"}


def test_a_machine_identity_named_like_another_integrations_client_id_is_refused(
    scim: TestClient, runtime: Runtime
) -> None:
    _decoy(runtime, name="legacy-bot", client_id="scim-sa:bot")
    before = _counts(runtime)
    resp = scim.post("/scim/v2/Users", json=_service_account("bot"))
    _refused(resp, "'scim-sa:bot'", "client_id", "'legacy-bot'")
    assert _counts(runtime) == before


def test_a_machine_identity_named_like_an_existing_integration_is_refused_by_name(
    scim: TestClient, runtime: Runtime
) -> None:
    """Before, the unique index answered 'userName, externalId or email already belongs to
    another user' — about the wrong thing."""
    _decoy(runtime, name="scim-sa:bot")
    before = _counts(runtime)
    resp = scim.post("/scim/v2/Users", json=_service_account("bot"))
    _refused(resp, "integration", "'scim-sa:bot'", "already exists")
    assert _counts(runtime) == before


def test_a_user_turned_service_account_by_put_is_checked_too(
    scim: TestClient, runtime: Runtime
) -> None:
    _decoy(runtime, name="legacy-bot", client_id="scim-sa:robot")
    created = scim.post("/scim/v2/Users", json={"schemas": [USER], "userName": "robot"})
    assert created.status_code == 201, created.text
    before = _counts(runtime)
    resp = scim.put(f"/scim/v2/Users/{created.json()['id']}", json=_service_account("robot"))
    _refused(resp, "'scim-sa:robot'", "'legacy-bot'")
    assert _counts(runtime) == before
    with runtime.store.session() as s:
        row = s.get(ScimUser, created.json()["id"])
        assert row is not None and not row.service_account and row.integration_id is None


def test_a_machine_identity_without_collision_is_still_created_and_audited(
    scim: TestClient, runtime: Runtime
) -> None:
    _decoy(runtime, name="legacy-bot", client_id="something-else")
    resp = scim.post("/scim/v2/Users", json=_service_account("bot"))
    assert resp.status_code == 201, resp.text
    with runtime.store.session() as s:
        integ = s.scalar(select(Integration).where(Integration.name == "scim-sa:bot"))
        assert integ is not None and integ.client_id and integ.client_id.startswith("rfsa_")
