"""The SCIM flows and the lifecycle on both engines (SQLite and PostgreSQL)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from ringfence.api.app import create_app
from ringfence.identity import lifecycle
from ringfence.identity.scim import ScimTokens
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime
from ringfence.store import audit
from ringfence.store.models import App, Integration, IntegrationStatus, Person, Vendor

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def test_provisioning_and_deprovisioning_on_both_engines(any_runtime: Runtime) -> None:
    rt = any_runtime
    with rt.store.session() as s:
        vendor = Vendor(name="Acme")
        s.add(vendor)
        s.flush()
        app_row = App(name="crm", vendor_id=vendor.id)
        s.add(app_row)
        s.flush()
        owner = Person(email="dana@contoso.com")
        s.add(owner)
        s.flush()
        s.add(Integration(name="sync", destination_app_id=app_row.id, owner_id=owner.id))
    app = create_app(rt)
    app.state.identity_settings = IdentitySettings()
    token = ScimTokens(rt.store, rt.clock).issue("entra").token.get_secret_value()
    with TestClient(
        app, base_url="https://rf.example", headers={"Authorization": f"Bearer {token}"}
    ) as c:
        created = c.post(
            "/scim/v2/Users",
            json={
                "schemas": [USER, ENT],
                "userName": "Dana@Contoso.com",
                "externalId": "dana",
                "emails": [{"value": "dana@contoso.com", "type": "work", "primary": True}],
                ENT: {"department": "X"},
            },
        )
        assert created.status_code == 201, created.text
        uid = created.json()["id"]
        group = c.post(
            "/scim/v2/Groups",
            json={
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Agents",
                "members": [{"value": uid}],
            },
        )
        assert group.status_code == 201, group.text
        found = c.get(
            "/scim/v2/Users",
            params={"filter": f'userName eq "dana@contoso.com" and {ENT}:department eq "X"'},
        ).json()
        assert (
            found["totalResults"] == 1 and found["Resources"][0]["groups"][0]["display"] == "Agents"
        )
        etag = c.get(f"/scim/v2/Users/{uid}").headers["etag"]
        patched = c.patch(
            f"/scim/v2/Users/{uid}",
            json={
                "schemas": [PATCH],
                "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
            },
            headers={"If-Match": etag},
        )
        assert patched.status_code == 200 and patched.json()["active"] is False
        dup = c.post("/scim/v2/Users", json={"schemas": [USER], "userName": "dana@contoso.com"})
        assert dup.status_code == 409 and dup.json()["scimType"] == "uniqueness"
        assert c.delete(f"/scim/v2/Users/{uid}").status_code == 204
        assert c.get(f"/scim/v2/Groups/{group.json()['id']}").json().get("members") is None
    with rt.store.session() as s:
        integ = s.scalar(select(Integration).where(Integration.name == "sync"))
        assert integ is not None and integ.status == IntegrationStatus.QUARANTINED
        assert len(lifecycle.open_findings(s, uid)) == 1
    assert audit.verify(rt.store).ok
