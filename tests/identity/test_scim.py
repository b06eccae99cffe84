"""SCIM 2.0 server: discovery, auth, filters, sorting, paging, PATCH, ETags, errors, IdP flows."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ringfence.identity.models import IdentityFinding, ScimUser
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime
from ringfence.store.apitokens import ApiTokens
from ringfence.store.models import Integration, IntegrationKind, IntegrationStatus, Person
from tests.identity.concurrency import run_together

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCIM_JSON = {"Content-Type": "application/scim+json"}


def _user(name: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": [USER],
        "userName": name,
        "name": {"givenName": name.split("@")[0].title(), "familyName": "Doe"},
        "emails": [{"value": name, "type": "work", "primary": True}],
        "active": True,
    }
    body.update(extra)
    return body


def _create(scim: TestClient, name: str, **extra: Any) -> dict[str, Any]:
    resp = scim.post("/scim/v2/Users", json=_user(name, **extra), headers=SCIM_JSON)
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _patch(ops: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schemas": [PATCH], "Operations": ops}


def _error(resp: Any, status: int, scim_type: str | None) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/scim+json")
    body = resp.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type


# -- discovery and auth ---------------------------------------------------------------------
def test_discovery_endpoints_describe_users_enterprise_and_groups(scim: TestClient) -> None:
    spc = scim.get("/scim/v2/ServiceProviderConfig")
    assert spc.status_code == 200
    assert spc.headers["content-type"].startswith("application/scim+json")
    body = spc.json()
    assert body["patch"]["supported"] and body["etag"]["supported"] and body["sort"]["supported"]
    assert body["filter"]["supported"] and not body["bulk"]["supported"]
    rts = {r["id"]: r for r in scim.get("/scim/v2/ResourceTypes").json()["Resources"]}
    assert rts["User"]["schemaExtensions"][0]["schema"] == ENT
    assert set(rts) == {"User", "Group"}
    schema_ids = {s["id"] for s in scim.get("/scim/v2/Schemas").json()["Resources"]}
    assert schema_ids == {USER, ENT, GROUP}
    assert scim.get(f"/scim/v2/Schemas/{ENT}").json()["id"] == ENT
    _error(scim.get("/scim/v2/Schemas/urn:nope"), 404, None)
    _error(scim.post("/scim/v2/Schemas", json={}), 405, None)


def test_requests_without_a_valid_scim_token_are_refused(
    app: Any, runtime: Runtime, scim: TestClient
) -> None:
    with TestClient(app, base_url="https://rf.example") as anon:
        _error(anon.get("/scim/v2/Users"), 401, None)
        assert anon.get("/scim/v2/Users").headers["www-authenticate"].startswith("Bearer")
        _error(anon.get("/scim/v2/Users", headers={"Authorization": "Bearer nope"}), 401, None)
        cp = ApiTokens(runtime.store, runtime.clock).issue("ci", ["read", "write"])
        cp_header = {"Authorization": f"Bearer {cp.token.get_secret_value()}"}
        _error(anon.get("/scim/v2/Users", headers=cp_header), 401, None)
        tampered = scim.headers["authorization"][:-3] + "xyz"
        _error(anon.get("/scim/v2/Users", headers={"Authorization": tampered}), 401, None)


def test_revoked_scim_token_is_refused(app: Any, runtime: Runtime) -> None:
    from ringfence.identity.scim import ScimTokens

    tokens = ScimTokens(runtime.store, runtime.clock)
    issued = tokens.issue("entra")
    with TestClient(app, base_url="https://rf.example") as c:
        h = {"Authorization": f"Bearer {issued.token.get_secret_value()}"}
        assert c.get("/scim/v2/Users", headers=h).status_code == 200
        tokens.revoke(issued.id)
        _error(c.get("/scim/v2/Users", headers=h), 401, None)


# -- filtering, sorting, paging -------------------------------------------------------------
@pytest.fixture
def people(scim: TestClient) -> dict[str, str]:
    ids = {}
    for i, (name, dept, title) in enumerate(
        [
            ("ann@example.com", "Engineering", "Engineer"),
            ("bea@example.com", "Sales", None),
            ("cid@example.org", "Engineering", "Manager"),
        ]
    ):
        extra: dict[str, Any] = {
            "schemas": [USER, ENT],
            ENT: {"department": dept, "employeeNumber": str(100 + i)},
            "externalId": f"ext-{i}",
        }
        if title:
            extra["title"] = title
        ids[name] = _create(scim, name, **extra)["id"]
    return ids


FILTER_CASES: list[tuple[str, set[str]]] = [
    ('userName eq "ANN@example.com"', {"ann@example.com"}),
    ('userName ne "ann@example.com"', {"bea@example.com", "cid@example.org"}),
    ('userName co "example.org"', {"cid@example.org"}),
    ('userName sw "b"', {"bea@example.com"}),
    ('userName ew ".com"', {"ann@example.com", "bea@example.com"}),
    ("title pr", {"ann@example.com", "cid@example.org"}),
    ('externalId eq "ext-1"', {"bea@example.com"}),
    ('userName gt "bea@example.com"', {"cid@example.org"}),
    ('userName ge "bea@example.com"', {"bea@example.com", "cid@example.org"}),
    ('userName lt "bea@example.com"', {"ann@example.com"}),
    ('userName le "bea@example.com"', {"ann@example.com", "bea@example.com"}),
    ('title eq "Engineer" or title eq "Manager"', {"ann@example.com", "cid@example.org"}),
    (f'{ENT}:department eq "Engineering" and not (title eq "Manager")', {"ann@example.com"}),
    ('emails[type eq "work" and value co "example.org"]', {"cid@example.org"}),
    ('emails[type eq "home"]', set()),
    (
        'meta.lastModified gt "2000-01-01T00:00:00Z"',
        {"ann@example.com", "bea@example.com", "cid@example.org"},
    ),
]


def test_filters(scim: TestClient, people: dict[str, str]) -> None:
    for expression, expected in FILTER_CASES:
        resp = scim.get("/scim/v2/Users", params={"filter": expression})
        assert resp.status_code == 200, (expression, resp.text)
        body = resp.json()
        assert {r["userName"] for r in body.get("Resources", [])} == expected, expression
        assert body["totalResults"] == len(expected), expression


MALFORMED = ["userName eq", 'userName xx "a"', "(userName pr", 'emails[type eq "work"', "", "and"]


def test_malformed_filter_is_invalid_filter(scim: TestClient, people: dict[str, str]) -> None:
    for expression in MALFORMED:
        _error(scim.get("/scim/v2/Users", params={"filter": expression}), 400, "invalidFilter")


def test_filter_on_unknown_attribute_or_wrong_type_is_invalid_filter(
    scim: TestClient, people: dict[str, str]
) -> None:
    _error(scim.get("/scim/v2/Users", params={"filter": 'shoeSize eq "9"'}), 400, "invalidFilter")
    _error(scim.get("/scim/v2/Users", params={"filter": 'active gt "x"'}), 400, "invalidFilter")


def test_sorting_and_one_based_paging(scim: TestClient, people: dict[str, str]) -> None:
    page1 = scim.get(
        "/scim/v2/Users",
        params={"sortBy": "userName", "sortOrder": "descending", "startIndex": 1, "count": 2},
    ).json()
    assert [r["userName"] for r in page1["Resources"]] == ["cid@example.org", "bea@example.com"]
    assert page1["totalResults"] == 3 and page1["startIndex"] == 1 and page1["itemsPerPage"] == 2
    page2 = scim.get(
        "/scim/v2/Users",
        params={"sortBy": "userName", "sortOrder": "descending", "startIndex": 3, "count": 2},
    ).json()
    assert [r["userName"] for r in page2["Resources"]] == ["ann@example.com"]
    zero = scim.get("/scim/v2/Users", params={"startIndex": 0, "count": 0}).json()
    assert zero["totalResults"] == 3 and zero["startIndex"] == 1 and zero["itemsPerPage"] == 0
    by_dept = scim.get(
        "/scim/v2/Users", params={"sortBy": f"{ENT}:employeeNumber", "attributes": "userName"}
    ).json()["Resources"]
    assert [r["userName"] for r in by_dept] == [
        "ann@example.com",
        "bea@example.com",
        "cid@example.org",
    ]
    assert "emails" not in by_dept[0]


def test_post_search_and_root_search(scim: TestClient, people: dict[str, str]) -> None:
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": 'userName sw "a"',
    }
    resp = scim.post("/scim/v2/Users/.search", json=body, headers=SCIM_JSON)
    assert [r["userName"] for r in resp.json()["Resources"]] == ["ann@example.com"]
    scim.post("/scim/v2/Groups", json={"schemas": [GROUP], "displayName": "admins"})
    root = scim.post("/scim/v2/.search", json={"filter": "id pr"}, headers=SCIM_JSON).json()
    assert root["totalResults"] == 4


def test_too_many_results_is_too_many(app: Any, scim: TestClient, people: dict[str, str]) -> None:
    app.state.identity_settings = IdentitySettings(scim_max_results=2)
    _error(scim.get("/scim/v2/Users", params={"filter": "id pr"}), 400, "tooMany")
    assert scim.get("/scim/v2/Users", params={"filter": 'userName sw "a"'}).status_code == 200


def test_an_unfiltered_listing_pages_past_the_filter_limit(
    app: Any, scim: TestClient, people: dict[str, str]
) -> None:
    """An IdP's full import lists every user page by page: paged in SQL, never tooMany."""
    app.state.identity_settings = IdentitySettings(scim_max_results=2, scim_page_size=2)
    pages = [
        scim.get("/scim/v2/Users", params={"startIndex": i, "count": 2}).json() for i in (1, 3, 5)
    ]
    assert [p["totalResults"] for p in pages] == [3, 3, 3]
    assert [p["startIndex"] for p in pages] == [1, 3, 5]
    names = [r["userName"] for p in pages for r in p.get("Resources", [])]
    assert sorted(names) == sorted(people) and len(names) == 3
    assert scim.get("/scim/v2/Users", params={"count": 0}).json()["totalResults"] == 3
    groups = scim.get("/scim/v2/Groups").json()
    assert groups["totalResults"] == 0


# -- writes: validation, uniqueness, mutability ---------------------------------------------
def _count_users(runtime: Runtime) -> int:
    with runtime.store.session() as s:
        return int(s.scalar(select(func.count()).select_from(ScimUser)) or 0)


def test_bad_writes_are_scim_errors_and_leave_nothing_behind(
    scim: TestClient, runtime: Runtime
) -> None:
    _create(scim, "dup@example.com")
    before = _count_users(runtime)
    _error(scim.post("/scim/v2/Users", json=_user("DUP@example.com")), 409, "uniqueness")
    _error(
        scim.post("/scim/v2/Users", json=_user("x@example.com", shoeSize=9)), 400, "invalidSyntax"
    )
    _error(
        scim.post("/scim/v2/Users", json=_user("x@example.com", active="perhaps")),
        400,
        "invalidValue",
    )
    _error(scim.post("/scim/v2/Users", json={"schemas": [USER]}), 400, "invalidValue")
    _error(
        scim.post("/scim/v2/Users", content=b"{not json", headers=SCIM_JSON), 400, "invalidSyntax"
    )
    _error(scim.post("/scim/v2/Users", content=b"[]", headers=SCIM_JSON), 400, "invalidSyntax")
    many = [{"value": f"u{i}@example.com", "type": "other"} for i in range(1001)]
    _error(
        scim.post("/scim/v2/Users", json=_user("big@example.com", emails=many)),
        400,
        "invalidValue",
    )
    _error(
        scim.post("/scim/v2/Users", content=b"userName=x", headers={"Content-Type": "text/plain"}),
        415,
        None,
    )
    huge = b'{"userName": "' + b"a" * 1_100_000 + b'"}'
    _error(scim.post("/scim/v2/Users", content=huge, headers=SCIM_JSON), 413, None)
    assert _count_users(runtime) == before


def test_patch_errors_mutability_no_target_invalid_value(scim: TestClient) -> None:
    uid = _create(scim, "pat@example.com")["id"]
    url = f"/scim/v2/Users/{uid}"
    _error(
        scim.patch(url, json=_patch([{"op": "replace", "path": "groups", "value": []}])),
        400,
        "mutability",
    )
    _error(
        scim.patch(
            url,
            json=_patch(
                [{"op": "replace", "path": 'emails[value co "zzz"].value', "value": "a@b.c"}]
            ),
        ),
        400,
        "noTarget",
    )
    _error(scim.patch(url, json=_patch([{"op": "frob", "path": "title"}])), 400, "invalidValue")
    _error(scim.patch(url, json={"schemas": [PATCH], "Operations": []}), 400, "invalidValue")
    _error(
        scim.patch(url, json=_patch([{"op": "replace", "path": "active", "value": "maybe"}])),
        400,
        "invalidValue",
    )
    _error(
        scim.patch(url, json=_patch([{"op": "replace", "path": "title[", "value": "x"}])),
        400,
        "invalidPath",
    )
    # nothing applied: the user is unchanged and still active
    got = scim.get(url).json()
    assert got["active"] is True and "title" not in got


def test_put_cannot_change_the_id_and_keeps_read_only_attributes(scim: TestClient) -> None:
    created = _create(scim, "put@example.com")
    body = _user("put@example.com", title="Lead", id="something-else")
    resp = scim.put(f"/scim/v2/Users/{created['id']}", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["id"] == created["id"] and resp.json()["title"] == "Lead"
    assert resp.json()["meta"]["created"] == created["meta"]["created"]
    _error(scim.put("/scim/v2/Users/does-not-exist", json=body), 404, None)


def test_etags_if_match_and_if_none_match(scim: TestClient) -> None:
    created = _create(scim, "etag@example.com")
    url = f"/scim/v2/Users/{created['id']}"
    etag = created["meta"]["version"]
    got = scim.get(url)
    assert got.headers["etag"] == etag
    assert scim.get(url, headers={"If-None-Match": etag}).status_code == 304
    op = _patch([{"op": "replace", "path": "title", "value": "CTO"}])
    _error(scim.patch(url, json=op, headers={"If-Match": 'W/"stale"'}), 412, None)
    ok = scim.patch(url, json=op, headers={"If-Match": etag})
    assert ok.status_code == 200 and ok.headers["etag"] != etag
    _error(scim.delete(url, headers={"If-Match": etag}), 412, None)
    assert scim.delete(url, headers={"If-Match": ok.headers["etag"]}).status_code == 204


def test_password_is_never_stored_or_returned(scim: TestClient, runtime: Runtime) -> None:
    created = _create(scim, "pw@example.com", password="Hunter2-secret!")
    assert "password" not in created
    with runtime.store.session() as s:
        row = s.get(ScimUser, created["id"])
        assert row is not None and "Hunter2" not in str(row.document)


# -- groups ---------------------------------------------------------------------------------
def test_groups_members_and_user_groups_attribute(scim: TestClient) -> None:
    a = _create(scim, "ga@example.com")["id"]
    b = _create(scim, "gb@example.com")["id"]
    grp = scim.post(
        "/scim/v2/Groups",
        json={"schemas": [GROUP], "displayName": "Security", "members": [{"value": a}]},
    )
    assert grp.status_code == 201, grp.text
    gid = grp.json()["id"]
    assert scim.get(f"/scim/v2/Users/{a}").json()["groups"][0]["value"] == gid
    # Entra: capitalised op, add then remove-with-value
    add = _patch([{"op": "Add", "path": "members", "value": [{"value": b}]}])
    assert len(scim.patch(f"/scim/v2/Groups/{gid}", json=add).json()["members"]) == 2
    rm = _patch([{"op": "Remove", "path": "members", "value": [{"value": a}]}])
    members = scim.patch(f"/scim/v2/Groups/{gid}", json=rm).json()["members"]
    assert [m["value"] for m in members] == [b]
    rm_path = _patch([{"op": "remove", "path": f'members[value eq "{b}"]'}])
    assert "members" not in scim.patch(f"/scim/v2/Groups/{gid}", json=rm_path).json()
    bad = _patch([{"op": "add", "path": "members", "value": [{"value": "ghost"}]}])
    _error(scim.patch(f"/scim/v2/Groups/{gid}", json=bad), 400, "invalidValue")
    dup = {"schemas": [GROUP], "displayName": "security"}
    _error(scim.post("/scim/v2/Groups", json=dup), 409, "uniqueness")
    found = scim.get("/scim/v2/Groups", params={"filter": 'displayName eq "Security"'}).json()
    assert found["totalResults"] == 1
    assert scim.delete(f"/scim/v2/Groups/{gid}").status_code == 204
    _error(scim.get(f"/scim/v2/Groups/{gid}"), 404, None)


# -- identity provider flows ----------------------------------------------------------------
def test_okta_provisioning_flow(scim: TestClient, runtime: Runtime, estate: dict[str, str]) -> None:
    """Okta: lookup by userName, create, read, PATCH active=false (Okta never DELETEs)."""
    look = scim.get(
        "/scim/v2/Users",
        params={"filter": 'userName eq "alice@example.com"', "startIndex": 1, "count": 100},
    )
    assert look.json()["totalResults"] == 0
    created = scim.post(
        "/scim/v2/Users",
        json={
            "schemas": [USER],
            "userName": "alice@example.com",
            "name": {"givenName": "Alice", "familyName": "Liddell"},
            "emails": [{"primary": True, "value": "alice@example.com", "type": "work"}],
            "displayName": "Alice Liddell",
            "locale": "en-US",
            "externalId": "00u1abcd",
            "groups": [],
            "password": "initial-Pa55word",
            "active": True,
        },
        headers=SCIM_JSON,
    )
    assert created.status_code == 201, created.text
    uid = created.json()["id"]
    # adopted the inventory's existing person, so ownership links stay
    assert uid == estate["alice"]
    assert scim.get(f"/scim/v2/Users/{uid}").json()["userName"] == "alice@example.com"
    resp = scim.patch(
        f"/scim/v2/Users/{uid}",
        json=_patch([{"op": "replace", "value": {"active": False}}]),
    )
    assert resp.status_code == 200 and resp.json()["active"] is False
    with runtime.store.session() as s:
        person = s.get(Person, uid)
        assert person is not None and not person.active and person.deactivated_at is not None
        assert person.external_id == "00u1abcd"
        statuses = {i.name: i.status for i in s.scalars(select(Integration))}
        assert statuses == {
            "crm-to-chat": IntegrationStatus.QUARANTINED,
            "crm-report": IntegrationStatus.QUARANTINED,
        }
        findings = s.scalars(select(IdentityFinding).where(IdentityFinding.status == "open"))
        assert {f.integration_id for f in findings} == {estate["sync"], estate["job"]}
    # Okta re-activates: quarantines set by the lifecycle are lifted, findings resolved
    resp = scim.patch(
        f"/scim/v2/Users/{uid}", json=_patch([{"op": "replace", "value": {"active": True}}])
    )
    assert resp.json()["active"] is True
    with runtime.store.session() as s:
        assert {i.status for i in s.scalars(select(Integration))} == {IntegrationStatus.ACTIVE}


def test_entra_provisioning_flow(scim: TestClient, runtime: Runtime) -> None:
    """Entra: filter on userName, create with extension, capitalised PATCH, "False", DELETE."""
    assert (
        scim.get("/scim/v2/Users", params={"filter": 'userName eq "dana@contoso.com"'}).json()[
            "totalResults"
        ]
        == 0
    )
    created = scim.post(
        "/scim/v2/Users",
        json={
            "schemas": [USER, ENT],
            "externalId": "dana",
            "userName": "dana@contoso.com",
            "active": True,
            "displayName": "Dana",
            "emails": [{"primary": True, "type": "work", "value": "dana@contoso.com"}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "Dana Scully", "familyName": "Scully", "givenName": "Dana"},
            "roles": [],
            ENT: {"employeeNumber": "42", "department": "X-Files"},
        },
        headers=SCIM_JSON,
    )
    assert created.status_code == 201, created.text
    uid = created.json()["id"]
    by_ext = scim.get("/scim/v2/Users", params={"filter": 'externalId eq "dana"'}).json()
    assert by_ext["Resources"][0]["id"] == uid
    resp = scim.patch(
        f"/scim/v2/Users/{uid}",
        json=_patch(
            [
                {"op": "Replace", "path": "displayName", "value": "Dana K. Scully"},
                {"op": "Add", "path": 'emails[type eq "home"].value', "value": "d@home.example"},
                {"op": "Replace", "path": f"{ENT}:department", "value": "Pathology"},
                {"op": "Add", "path": "title", "value": "Agent"},
            ]
        ),
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["displayName"] == "Dana K. Scully" and body[ENT]["department"] == "Pathology"
    assert {e["type"] for e in body["emails"]} == {"work", "home"}
    resp = scim.patch(
        f"/scim/v2/Users/{uid}",
        json=_patch([{"op": "Replace", "path": "active", "value": "False"}]),
    )
    assert resp.status_code == 200 and resp.json()["active"] is False
    assert scim.delete(f"/scim/v2/Users/{uid}").status_code == 204
    _error(scim.get(f"/scim/v2/Users/{uid}"), 404, None)
    _error(scim.delete(f"/scim/v2/Users/{uid}"), 404, None)
    with runtime.store.session() as s:
        person = s.get(Person, uid)
        assert person is not None and not person.active  # tombstone kept for ownership history
    again = _create(scim, "dana@contoso.com", externalId="dana")
    assert again["id"] == uid and again["active"] is True


def test_service_account_gets_a_machine_identity(scim: TestClient, runtime: Runtime) -> None:
    manager = _create(scim, "owner@example.com")["id"]
    sa = _create(
        scim,
        "svc-billing",
        emails=[],
        userType="ServiceAccount",
        schemas=[USER, ENT],
        **{ENT: {"manager": {"value": manager, "$ref": f"../Users/{manager}"}}},
    )
    with runtime.store.session() as s:
        row = s.get(ScimUser, sa["id"])
        assert row is not None and row.service_account and row.integration_id
        integ = s.get(Integration, row.integration_id)
        assert integ is not None
        assert integ.kind == IntegrationKind.SERVICE_ACCOUNT
        assert integ.client_id and integ.client_id.startswith("rfsa_")
        assert integ.owner_id == manager and integ.status == IntegrationStatus.ACTIVE
        integ_id = integ.id
    scim.patch(
        f"/scim/v2/Users/{sa['id']}",
        json=_patch([{"op": "replace", "path": "active", "value": False}]),
    )
    with runtime.store.session() as s:
        got = s.get(Integration, integ_id)
        assert got is not None and got.status == IntegrationStatus.QUARANTINED
    scim.delete(f"/scim/v2/Users/{sa['id']}")
    with runtime.store.session() as s:
        got = s.get(Integration, integ_id)
        assert got is not None and got.status == IntegrationStatus.REVOKED


def test_unknown_endpoint_is_a_scim_404(scim: TestClient) -> None:
    _error(scim.get("/scim/v2/Widgets"), 404, None)
    _error(scim.get("/scim/v2/Users/nope"), 404, None)


NARROWING_CASES = [
    'userName eq "ANN@EXAMPLE.COM"',
    'externalId eq "ext-1"',
    'externalId eq "EXT-1"',
    'displayName eq "Ann Doe"',
    'userName eq "ann@example.com" and title eq "Engineer"',
    'userName eq "ann@example.com" or userName eq "bea@example.com"',
    'not (userName eq "ann@example.com")',
    'emails[value eq "cid@example.org"]',
]


def test_sql_narrowing_gives_the_same_answer_as_a_full_scan(
    scim: TestClient, people: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ringfence.identity.scim import ScimService

    for expression in NARROWING_CASES:
        narrowed = scim.get("/scim/v2/Users", params={"filter": expression}).json()
        monkeypatch.setattr(ScimService, "narrow_in_sql", False)
        monkeypatch.setattr(ScimService, "cache_resources", False)
        scanned = scim.get("/scim/v2/Users", params={"filter": expression}).json()
        monkeypatch.undo()
        assert narrowed == scanned, expression
    uid = people["ann@example.com"]
    by_id = scim.get("/scim/v2/Users", params={"filter": f'id eq "{uid}"'}).json()
    assert by_id["totalResults"] == 1


def test_deleting_a_nested_group_removes_it_from_its_parent(scim: TestClient) -> None:
    child = scim.post("/scim/v2/Groups", json={"schemas": [GROUP], "displayName": "child"})
    cid = child.json()["id"]
    parent = scim.post(
        "/scim/v2/Groups",
        json={"schemas": [GROUP], "displayName": "parent", "members": [{"value": cid}]},
    ).json()
    assert parent["members"][0]["type"] == "Group"
    assert scim.delete(f"/scim/v2/Groups/{cid}").status_code == 204
    after = scim.get(f"/scim/v2/Groups/{parent['id']}").json()
    assert "members" not in after and after["meta"]["version"] != parent["meta"]["version"]
    found = scim.get("/scim/v2/Groups", params={"filter": 'displayName eq "PARENT"'}).json()
    assert found["totalResults"] == 1


def _race(app: Any, scim_token: str, send: Any) -> list[Any]:
    """Two requests released at once on their own clients; their responses."""

    def body(i: int, go: Any) -> Any:
        auth = {"Authorization": f"Bearer {scim_token}"}
        with TestClient(app, base_url="https://rf.example", headers=auth) as client:
            go()
            return send(client, i)

    return run_together(2, body)


def test_if_match_lets_only_one_of_two_concurrent_writers_through(
    app: Any, scim_token: str, scim: TestClient
) -> None:
    """Review finding: on SQLite both writers read version v, both passed If-Match and the
    later one silently undid the other (8 of 10 trials). The write now claims the version."""
    uid = _create(scim, "ann@example.com")["id"]
    for trial in range(5):
        etag = scim.get(f"/scim/v2/Users/{uid}").headers["ETag"]

        def send(client: TestClient, i: int, etag: str = etag, trial: int = trial) -> int:
            ops = [{"op": "replace", "path": "displayName", "value": f"writer-{i}-{trial}"}]
            resp = client.patch(
                f"/scim/v2/Users/{uid}",
                json=_patch(ops),
                headers={"Content-Type": "application/scim+json", "If-Match": etag},
            )
            return resp.status_code

        assert sorted(_race(app, scim_token, send)) == [200, 412], trial


def test_concurrent_patches_without_if_match_are_both_applied(
    app: Any, scim_token: str, scim: TestClient
) -> None:
    """Without If-Match a PATCH that loses the race is applied again on the stored version,
    so two PATCHes adding different emails both land (none is silently undone)."""
    uid = _create(scim, "bea@example.com")["id"]
    for trial in range(3):

        def send(client: TestClient, i: int, trial: int = trial) -> int:
            value = [{"value": f"bea+{trial}-{i}@example.com", "type": "other"}]
            resp = client.patch(
                f"/scim/v2/Users/{uid}",
                json=_patch([{"op": "add", "path": "emails", "value": value}]),
                headers={"Content-Type": "application/scim+json"},
            )
            return resp.status_code

        assert _race(app, scim_token, send) == [200, 200]
        emails = {e["value"] for e in scim.get(f"/scim/v2/Users/{uid}").json()["emails"]}
        assert {f"bea+{trial}-0@example.com", f"bea+{trial}-1@example.com"} <= emails
