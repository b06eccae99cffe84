"""Review 11: a Group's displayName and an externalId are checked like userName is.

A PATCH could blank a group's displayName (200), after which every new group failed with a
misleading 409 "displayName already in use" (the blank key clashed); over-long names and
externalIds were stored on SQLite but are a database error on PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _invalid_value(resp: object) -> None:
    from httpx import Response

    assert isinstance(resp, Response)
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["scimType"] == "invalidValue", body


@pytest.mark.parametrize("name", ["", "   ", "x" * 321, "tab\there"])
def test_a_bad_group_display_name_is_invalid_value(scim: TestClient, name: str) -> None:
    _invalid_value(scim.post("/scim/v2/Groups", json={"schemas": [GROUP], "displayName": name}))


def test_a_patch_cannot_blank_a_groups_display_name(scim: TestClient) -> None:
    made = scim.post("/scim/v2/Groups", json={"schemas": [GROUP], "displayName": "sales"})
    assert made.status_code == 201, made.text
    op = {"op": "replace", "path": "displayName", "value": ""}
    body = {"schemas": [PATCH], "Operations": [op]}
    _invalid_value(scim.patch(f"/scim/v2/Groups/{made.json()['id']}", json=body))
    assert scim.get(f"/scim/v2/Groups/{made.json()['id']}").json()["displayName"] == "sales"
    other = scim.post("/scim/v2/Groups", json={"schemas": [GROUP], "displayName": "ops"})
    assert other.status_code == 201, other.text


def test_an_over_long_external_id_is_invalid_value(scim: TestClient) -> None:
    long_id = "x" * 201
    _invalid_value(
        scim.post(
            "/scim/v2/Users",
            json={"schemas": [USER], "userName": "a@example.com", "externalId": long_id},
        )
    )
    _invalid_value(
        scim.post(
            "/scim/v2/Groups",
            json={"schemas": [GROUP], "displayName": "g", "externalId": long_id},
        )
    )
    fits = scim.post(
        "/scim/v2/Users",
        json={"schemas": [USER], "userName": "b@example.com", "externalId": "x" * 200},
    )
    assert fits.status_code == 201, fits.text


@pytest.mark.parametrize("method", ["OPTIONS", "HEAD"])
def test_methods_no_route_takes_are_a_scim_405(scim: TestClient, method: str) -> None:
    """They were the API's problem+json 405: an IdP's client reads SCIM Error bodies."""
    resp = scim.request(method, "/scim/v2/Users")
    assert resp.status_code == 405
    assert resp.headers["content-type"].startswith("application/scim+json")
    if method == "OPTIONS":
        body = resp.json()
        assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
        assert body["status"] == "405"
