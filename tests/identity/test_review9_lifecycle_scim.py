"""Review 9: SCIM writes never reactivate a leaver by omission, keep machine identities in
step with their account, and refuse values the rest of Ringfence cannot use."""

from __future__ import annotations

import pytest
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


@pytest.mark.parametrize(
    "body",
    [
        {"userName": ""},
        {"userName": "   "},
        {"userName": "ann\x00@example.com"},
        {"userName": "a" * 400 + "@example.com"},
        {"userName": "ann", "emails": [{"value": "a" * 400 + "@example.com", "primary": True}]},
    ],
    ids=["empty", "blank", "nul", "long-username", "long-email"],
)
def test_blank_or_unusable_usernames_and_emails_are_invalid_values(
    scim: TestClient, runtime: Runtime, body: dict[str, object]
) -> None:
    """Finding 13: blank userNames were accepted, and a NUL or a 400-character local part
    became the person's email (then `ringfence export` wrote a file `plan` rejects)."""
    resp = scim.post("/scim/v2/Users", json={"schemas": [USER], **body})
    assert resp.status_code == 400, resp.text
    assert resp.json()["scimType"] in ("invalidValue", "invalidSyntax")
    with runtime.store.session() as s:
        assert s.scalars(select(Person)).all() == []


def test_patching_username_to_blank_is_refused(scim: TestClient) -> None:
    uid = scim.post("/scim/v2/Users", json={"schemas": [USER], "userName": "kim"}).json()["id"]
    for value in ("", "  "):
        op = {"op": "replace", "path": "userName", "value": value}
        resp = scim.patch(f"/scim/v2/Users/{uid}", json={"schemas": [PATCH], "Operations": [op]})
        assert resp.status_code == 400, resp.text
        assert resp.json()["scimType"] == "invalidValue"
    assert scim.get(f"/scim/v2/Users/{uid}").json()["userName"] == "kim"


@pytest.mark.parametrize(
    ("flt", "ok"),
    [
        ("meta.created gt 5", False),
        ('name eq "x"', False),
        ('active eq "yes"', False),
        ("userName eq 5", False),
        ('meta.created gt "2020-01-01T00:00:00Z"', True),
        ('name.familyName eq "x"', True),
        ('emails[type eq "work" and value co "@example.com"]', True),
        ("active eq true", True),
        ('not (userName eq "kim")', True),
    ],
)
def test_filter_values_must_fit_their_attribute(scim: TestClient, flt: str, ok: bool) -> None:
    resp = scim.get("/scim/v2/Users", params={"filter": flt})
    if ok:
        assert resp.status_code == 200, resp.text
    else:
        assert resp.status_code == 400, resp.text
        assert resp.json()["scimType"] == "invalidFilter"


def test_error_details_name_the_field_without_pydantic_text(scim: TestClient) -> None:
    uid = scim.post("/scim/v2/Users", json={"schemas": [USER], "userName": "kim"}).json()["id"]
    op = {"op": "replace", "path": "active", "value": "maybe"}
    resp = scim.patch(f"/scim/v2/Users/{uid}", json={"schemas": [PATCH], "Operations": [op]})
    assert resp.status_code == 400, resp.text
    detail = resp.json()["detail"]
    assert "pydantic" not in detail and "For further information" not in detail
    assert "\n" not in detail and len(detail) < 200
