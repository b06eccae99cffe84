"""SCIM list parameters: out-of-range numbers are a SCIM 400, never a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ringfence.identity.scim import ScimTokens
from ringfence.runtime import Runtime


@pytest.mark.parametrize(
    ("where", "params"),
    [
        ("query", {"startIndex": "99999999999999999999999"}),
        ("query", {"count": "99999999999999999999999", "startIndex": "18446744073709551616"}),
        ("body", {"startIndex": 10**30}),
    ],
)
def test_huge_start_index_is_a_400(
    client: TestClient, runtime: Runtime, where: str, params: dict[str, object]
) -> None:
    token = ScimTokens(runtime.store, runtime.clock).issue("okta").token.get_secret_value()
    headers = {"Authorization": f"Bearer {token}"}
    if where == "query":
        resp = client.get("/scim/v2/Users", params=params, headers=headers)
    else:
        body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], **params}
        resp = client.post("/scim/v2/Users/.search", json=body, headers=headers)
    assert resp.status_code == 400, resp.text
    assert resp.json()["scimType"] == "invalidValue"


def test_ordinary_paging_still_works(client: TestClient, runtime: Runtime) -> None:
    token = ScimTokens(runtime.store, runtime.clock).issue("okta").token.get_secret_value()
    headers = {"Authorization": f"Bearer {token}"}
    resp = client.get("/scim/v2/Users", params={"startIndex": "5", "count": "3"}, headers=headers)
    assert resp.status_code == 200 and resp.json()["startIndex"] == 5
