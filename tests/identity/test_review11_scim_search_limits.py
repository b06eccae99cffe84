"""Review 11: SCIM requests too large to be real are refused before parsing or applying.

Every candidate user is matched against the whole filter, so a bearer of the IdP's token could
send a 1 MiB ``or`` chain (~20,000 terms: 1.8 s to parse alone) and make each request cost
that times every user. IdPs send a few terms; the cap is far above them."""

from __future__ import annotations

from fastapi.testclient import TestClient

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _or_chain(length: int) -> str:
    terms, size, i = [], 0, 0
    while size < length:
        term = f'userName eq "user{i}@example.com"'
        terms.append(term)
        size += len(term) + 4
        i += 1
    return " or ".join(terms)


def _scim_error(resp: object, status: int, scim_type: str) -> None:
    from httpx import Response

    assert isinstance(resp, Response)
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/scim+json")
    body = resp.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["scimType"] == scim_type


def test_an_oversized_filter_is_invalid_filter_and_a_long_real_one_works(scim: TestClient) -> None:
    made = scim.post("/scim/v2/Users", json={"schemas": [USER], "userName": "user3@example.com"})
    assert made.status_code == 201, made.text
    huge = _or_chain(5000)
    _scim_error(scim.get("/scim/v2/Users", params={"filter": huge}), 400, "invalidFilter")
    _scim_error(
        scim.post("/scim/v2/Users/.search", json={"schemas": [SEARCH], "filter": huge}),
        400,
        "invalidFilter",
    )
    _scim_error(
        scim.post("/scim/v2/.search", json={"schemas": [SEARCH], "filter": huge}),
        400,
        "invalidFilter",
    )
    fits = _or_chain(3900)
    assert len(fits) <= 4096
    found = scim.get("/scim/v2/Users", params={"filter": fits})
    assert found.status_code == 200, found.text
    assert [r["userName"] for r in found.json()["Resources"]] == ["user3@example.com"]


def test_too_many_attribute_names_are_invalid_value(scim: TestClient) -> None:
    many = ["userName"] * 201
    _scim_error(
        scim.post("/scim/v2/Users/.search", json={"schemas": [SEARCH], "attributes": many}),
        400,
        "invalidValue",
    )
    _scim_error(
        scim.get("/scim/v2/Users", params={"excludedAttributes": ",".join(many)}),
        400,
        "invalidValue",
    )
    ok = scim.get("/scim/v2/Users", params={"attributes": "userName,emails"})
    assert ok.status_code == 200, ok.text


def test_a_patch_with_too_many_operations_is_refused_before_it_is_applied(
    scim: TestClient,
) -> None:
    """16,000 operations fit in the 1 MiB body limit; each re-validates the resource (10,000
    member adds to a group: 14 s of CPU measured)."""
    made = scim.post("/scim/v2/Users", json={"schemas": [USER], "userName": "ops@example.com"})
    assert made.status_code == 201, made.text
    uid = made.json()["id"]
    op = {"op": "replace", "path": "displayName", "value": "x"}
    body = {"schemas": [PATCH], "Operations": [op] * 1001}
    _scim_error(scim.patch(f"/scim/v2/Users/{uid}", json=body), 400, "invalidValue")
    assert "displayName" not in scim.get(f"/scim/v2/Users/{uid}").json()
    body["Operations"] = [op] * 3
    assert scim.patch(f"/scim/v2/Users/{uid}", json=body).status_code == 200
