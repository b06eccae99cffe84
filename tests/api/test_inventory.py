"""Inventory CRUD through the API, on SQLite and PostgreSQL: references, conflicts, audit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from ringfence.store import audit
from tests.api.conftest import Api, bearer, seed, store_state
from tests.respond.test_api import _personal_token


def _audit(api: Api) -> list[dict[str, Any]]:
    return api.get("/api/v1/audit", params={"order": "asc", "limit": 1000}).json()["items"]


def test_create_get_update_delete_vendor(any_api: Api) -> None:
    api = any_api
    r = api.post("/api/v1/vendors", {"name": "Acme", "domains": ["acme.example"]})
    assert r.status_code == 201
    vendor = r.json()
    assert r.headers["location"].endswith(f"/api/v1/vendors/{vendor['id']}")
    assert api.get(f"/api/v1/vendors/{vendor['id']}").json() == vendor
    assert api.get("/api/v1/vendors/Acme").json() == vendor
    r = api.patch("/api/v1/vendors/Acme", {"website": "https://acme.example", "name": "Acme Inc"})
    assert r.status_code == 200
    assert r.json()["website"] == "https://acme.example"
    assert r.json()["name"] == "Acme Inc"
    r = api.patch("/api/v1/vendors/Acme Inc", {"website": None})
    assert r.json()["website"] is None
    assert api.delete("/api/v1/vendors/Acme Inc").status_code == 204
    assert api.get("/api/v1/vendors/Acme Inc").status_code == 404
    actions = [(a["action"], a["entity_id"], a["actor"]) for a in _audit(api)]
    assert actions == [
        ("vendor.create", vendor["id"], "token:admin-bot"),
        ("vendor.update", vendor["id"], "token:admin-bot"),
        ("vendor.update", vendor["id"], "token:admin-bot"),
        ("vendor.delete", vendor["id"], "token:admin-bot"),
    ]
    records = _audit(api)
    assert records[1]["before"]["name"] == "Acme"
    assert records[1]["after"]["name"] == "Acme Inc"
    assert records[3]["after"] is None
    assert audit.verify(api.runtime.store).ok


def test_every_entity_round_trips_with_references_by_name_and_id(any_api: Api) -> None:
    api = any_api
    seed(api)
    crm = api.get("/api/v1/apps/CRM").json()
    assert crm["vendor"]["name"] == "Acme"
    assert crm["owner"]["email"] == "ada@corp.example"
    assert crm["clearance"] == "confidential"
    integ = api.get("/api/v1/integrations/crm-to-hris").json()
    assert integ["source_app"]["id"] == crm["id"]
    assert integ["destination_app"]["name"] == "HRIS"
    bot = api.get("/api/v1/integrations/chat-bot").json()
    assert [c["name"] for c in bot["credentials"]] == ["chat-bot-key"]
    flow = api.get("/api/v1/flows/crm-hris-sync").json()
    assert flow["integration"]["name"] == "crm-to-hris"
    assert flow["origin"] == "declared"
    cred = api.get("/api/v1/credentials/chat-bot-key").json()
    assert cred["ref"] == "${env:CHAT_BOT_KEY}"
    person = api.get("/api/v1/people/bob@corp.example").json()
    assert person["department"] == "IT"
    # re-point by id instead of name
    hris = api.get("/api/v1/apps/HRIS").json()
    r = api.patch(
        f"/api/v1/flows/{flow['id']}", {"destination_app": hris["id"], "integration": None}
    )
    assert r.status_code == 200
    assert r.json()["integration"] is None
    # one audit record per change, chain intact
    assert len(_audit(api)) == 11 + 1
    assert api.get("/api/v1/audit/verify").json()["ok"] is True


def test_unchanged_patch_writes_no_audit_record(api: Api) -> None:
    api.post("/api/v1/vendors", {"name": "Acme", "description": "d"})
    r = api.patch("/api/v1/vendors/Acme", {"description": "d"})
    assert r.status_code == 200
    assert len(_audit(api)) == 1


DANGLING: list[tuple[Any, ...]] = [
    ("/api/v1/apps", {"name": "X", "vendor": "Nobody"}, "vendor"),
    ("/api/v1/apps", {"name": "X", "vendor": "Acme", "owner": "ghost@corp.example"}, "owner"),
    (
        "/api/v1/integrations",
        {"name": "i", "source_app": "CRM", "destination_app": "Nope"},
        "destination_app",
    ),
    (
        "/api/v1/integrations",
        {"name": "i", "source_app": "Nope", "destination_app": "CRM"},
        "source_app",
    ),
    (
        "/api/v1/credentials",
        {"name": "c", "kind": "api_key", "integration": "nope", "ref": "${env:X}"},
        "integration",
    ),
    (
        "/api/v1/credentials",
        {"name": "c", "kind": "api_key", "ref": "vault:not-in-vault"},
        "ref",
    ),
    (
        "/api/v1/flows",
        {"name": "f", "source_app": "CRM", "destination_app": "HRIS", "integration": "nope"},
        "integration",
    ),
]


def _dangling_reference_is_422_naming_the_field(api: Api) -> None:
    before = store_state(api.runtime)
    for url, body, field in DANGLING:
        r = api.post(url, body)
        assert r.status_code == 422, r.json()
        problem = r.json()
        assert problem["code"] == "unknown_reference"
        assert problem["errors"][0]["field"] == field
        assert store_state(api.runtime) == before


DUPLICATES: list[tuple[Any, ...]] = [
    ("/api/v1/vendors", {"name": "Acme"}, "name"),
    ("/api/v1/people", {"email": "ada@corp.example"}, "email"),
    ("/api/v1/apps", {"name": "CRM", "vendor": "Globex"}, "name"),
    (
        "/api/v1/integrations",
        {
            "name": "other",
            "kind": "service_account",
            "destination_app": "CRM",
            "client_id": "bot-1",
        },
        "client_id",
    ),
    (
        "/api/v1/credentials",
        {"name": "chat-bot-key", "kind": "password", "ref": "${env:Y}"},
        "name",
    ),
    (
        "/api/v1/flows",
        {"name": "crm-hris-sync", "source_app": "CRM", "destination_app": "Chat"},
        "name",
    ),
]


def _duplicate_is_409(api: Api) -> None:
    before = store_state(api.runtime)
    for url, body, field in DUPLICATES:
        r = api.post(url, body)
        assert r.status_code == 409, r.json()
        assert r.json()["code"] == "duplicate"
        assert r.json()["field"] == field
        assert store_state(api.runtime) == before


def test_rename_onto_existing_name_is_409(seeded: Api) -> None:
    api = seeded
    before = store_state(api.runtime)
    r = api.patch("/api/v1/apps/HRIS", {"name": "CRM"})
    assert r.status_code == 409
    assert store_state(api.runtime) == before


def test_observed_flow_may_share_a_declared_flows_name_and_then_needs_its_id(seeded: Api) -> None:
    api = seeded
    r = api.post(
        "/api/v1/flows",
        {
            "name": "crm-hris-sync",
            "source_app": "CRM",
            "destination_app": "HRIS",
            "origin": "observed",
        },
    )
    assert r.status_code == 201
    r2 = api.get("/api/v1/flows/crm-hris-sync")
    assert r2.status_code == 409
    assert r2.json()["code"] == "ambiguous_reference"
    assert api.get(f"/api/v1/flows/{r.json()['id']}").json()["origin"] == "observed"


REFERENCED: list[tuple[Any, ...]] = [
    ("/api/v1/vendors/Acme", "app"),
    ("/api/v1/apps/CRM", "integration"),
    ("/api/v1/people/ada@corp.example", "app"),
    ("/api/v1/integrations/chat-bot", "credential"),
    ("/api/v1/integrations/crm-to-hris", "flow"),
]


def _deleting_something_referenced_is_409_naming_the_referrer(api: Api) -> None:
    before = store_state(api.runtime)
    for url, referrer in REFERENCED:
        r = api.delete(url)
        assert r.status_code == 409
        body = r.json()
        assert body["code"] == "still_referenced"
        assert referrer in [x["type"] for x in body["referenced_by"]]
        assert all(x["examples"] for x in body["referenced_by"])
        assert store_state(api.runtime) == before


def test_delete_in_dependency_order_succeeds(seeded: Api) -> None:
    api = seeded
    for url in [
        "/api/v1/credentials/chat-bot-key",
        "/api/v1/flows/crm-hris-sync",
        "/api/v1/integrations/chat-bot",
        "/api/v1/integrations/crm-to-hris",
        "/api/v1/apps/CRM",
        "/api/v1/apps/HRIS",
        "/api/v1/apps/Chat",
        "/api/v1/vendors/Acme",
        "/api/v1/people/ada@corp.example",
    ]:
        r = api.delete(url)
        assert r.status_code == 204, (url, r.json())
    assert api.get("/api/v1/apps").json()["total"] == 0


def test_quarantine_revoke_activate(any_api: Api) -> None:
    api = any_api
    seed(api)
    r = api.post("/api/v1/integrations/crm-to-hris/quarantine", {"reason": "IR-42"})
    assert r.status_code == 200
    assert r.json()["changed"] is True
    assert r.json()["integration"]["status"] == "quarantined"
    again = api.post("/api/v1/integrations/crm-to-hris/quarantine")
    assert again.json()["changed"] is False
    assert (
        api.post("/api/v1/integrations/crm-to-hris/activate").json()["integration"]["status"]
        == "active"
    )
    # revoked is final: a request, approved by a second person (four eyes, session 14)
    requested = api.post("/api/v1/integrations/crm-to-hris/revoke")
    assert requested.status_code == 202, requested.text
    assert requested.json()["integration"]["status"] == "quarantined"
    approved = api.client.post(
        requested.json()["approve"],
        json={},
        headers=bearer(_personal_token(api, "second-person")),
    )
    assert approved.status_code == 200, approved.text
    assert api.get("/api/v1/integrations/crm-to-hris").json()["status"] == "revoked"
    before = store_state(api.runtime)
    r = api.post("/api/v1/integrations/crm-to-hris/activate")
    assert r.status_code == 409
    assert r.json()["code"] == "invalid_transition"
    assert store_state(api.runtime) == before
    trail = [
        a
        for a in _audit(api)
        if a["entity_type"] == "integration" and a["action"] != "integration.create"
    ]
    assert [a["action"] for a in trail] == [
        "integration.quarantine",
        "integration.activate",
        "incident.open",
        "integration.quarantine",
        "integration.revoke",
    ]
    assert trail[0]["after"]["reason"] == "IR-42"
    assert (trail[0]["before"]["status"], trail[0]["after"]["status"]) == ("active", "quarantined")
    assert api.post("/api/v1/integrations/nope/quarantine").status_code == 404


def test_status_cannot_be_changed_by_patch(seeded: Api) -> None:
    api = seeded
    r = api.patch("/api/v1/integrations/chat-bot", {"status": "active"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "status"


def test_integration_shape_rules(seeded: Api) -> None:
    api = seeded
    r = api.post("/api/v1/integrations", {"name": "x", "destination_app": "CRM"})
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "source_app")
    r = api.patch("/api/v1/integrations/chat-bot", {"source_app": "CRM"})
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "source_app")
    r = api.patch("/api/v1/integrations/chat-bot", {"source_app": "CRM", "kind": "app_to_app"})
    assert r.status_code == 200


# -- lists --------------------------------------------------------------------------------


def _names(r: Any) -> list[str]:
    assert r.status_code == 200, r.json()
    return [i.get("name") or i.get("email") for i in r.json()["items"]]


def _filters(api: Api) -> None:
    L = "/api/v1/"
    assert _names(api.get(L + "apps", params={"vendor": "Acme"})) == ["CRM", "HRIS"]
    assert _names(api.get(L + "apps", params={"sanctioned": "false"})) == ["Chat"]
    assert _names(api.get(L + "apps", params={"clearance": "restricted"})) == ["HRIS"]
    assert _names(api.get(L + "apps", params={"min_clearance": "confidential"})) == ["CRM", "HRIS"]
    assert _names(api.get(L + "apps", params={"owner": "ada@corp.example"})) == ["CRM"]
    assert _names(api.get(L + "apps", params={"q": "hr"})) == ["HRIS"]
    assert _names(api.get(L + "integrations", params={"vendor": "Globex"})) == ["chat-bot"]
    assert _names(api.get(L + "integrations", params={"vendor": "Acme"})) == ["crm-to-hris"]
    assert _names(api.get(L + "integrations", params={"source_app": "CRM"})) == ["crm-to-hris"]
    assert _names(api.get(L + "integrations", params={"destination_app": "Chat"})) == ["chat-bot"]
    assert _names(api.get(L + "integrations", params={"app": "HRIS"})) == ["crm-to-hris"]
    assert _names(api.get(L + "integrations", params={"owner": "bob@corp.example"})) == ["chat-bot"]
    assert _names(api.get(L + "integrations", params={"kind": "service_account"})) == ["chat-bot"]
    assert _names(api.get(L + "integrations", params={"data_class": "confidential"})) == [
        "crm-to-hris"
    ]
    api.post(L + "integrations/chat-bot/quarantine")
    assert _names(api.get(L + "integrations", params={"status": "quarantined"})) == ["chat-bot"]
    assert _names(api.get(L + "integrations", params={"status": "active"})) == ["crm-to-hris"]
    assert _names(api.get(L + "credentials", params={"integration": "chat-bot"})) == [
        "chat-bot-key"
    ]
    assert _names(api.get(L + "flows", params={"data_class": "confidential"})) == ["crm-hris-sync"]
    assert _names(api.get(L + "flows", params={"origin": "observed"})) == []
    assert _names(api.get(L + "people", params={"department": "IT"})) == ["Bob"]


def _filter_on_unknown_reference_is_422(api: Api) -> None:
    r = api.get("/api/v1/integrations", params={"owner": "nobody@x.example"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "owner"


def _sorting(api: Api) -> None:
    assert _names(api.get("/api/v1/apps", params={"sort": "-name"})) == ["HRIS", "Chat", "CRM"]
    assert _names(api.get("/api/v1/apps", params={"sort": "-clearance,name"})) == [
        "HRIS",
        "CRM",
        "Chat",
    ]
    r = api.get("/api/v1/apps", params={"sort": "vendor_id"})
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_query"


def test_pagination_walks_every_item_once(any_api: Api) -> None:
    api = any_api
    for i in range(7):
        assert api.post("/api/v1/vendors", {"name": f"v{i:02d}"}).status_code == 201
    seen: list[str] = []
    url: str | None = "/api/v1/vendors?limit=3"
    pages = 0
    while url:
        r = api.get(url)
        body = r.json()
        assert body["total"] == 7
        assert r.headers["x-total-count"] == "7"
        seen += [v["name"] for v in body["items"]]
        url = body["next"]
        if url:
            assert r.headers["link"] == f'<{url}>; rel="next"'
        else:
            assert "link" not in r.headers
        pages += 1
    assert pages == 3
    assert seen == [f"v{i:02d}" for i in range(7)]


def test_list_does_not_issue_a_query_per_row(any_api: Api) -> None:
    api = any_api
    seed(api)
    for i in range(15):
        api.post("/api/v1/vendors", {"name": f"vendor-{i}"})
        api.post(
            "/api/v1/apps",
            {"name": f"app-{i}", "vendor": f"vendor-{i}", "owner": "bob@corp.example"},
        )
        api.post(
            "/api/v1/integrations",
            {
                "name": f"int-{i}",
                "source_app": f"app-{i}",
                "destination_app": "CRM",
                "owner": "ada@corp.example",
            },
        )
        api.post(
            "/api/v1/credentials",
            {"name": f"cred-{i}", "kind": "api_key", "integration": f"int-{i}", "ref": "${env:K}"},
        )
        api.post(
            "/api/v1/flows",
            {
                "name": f"flow-{i}",
                "source_app": f"app-{i}",
                "destination_app": "CRM",
                "integration": f"int-{i}",
            },
        )
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    engine = api.runtime.store.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        for url in ["apps", "integrations", "credentials", "flows", "people", "vendors"]:
            statements.clear()
            r = api.get(f"/api/v1/{url}", params={"limit": 100})
            assert r.status_code == 200
            assert len(r.json()["items"]) >= 2
            # auth lookup (+ maybe last-used update) + count + page + one selectin at most
            assert len(statements) <= 6, (url, len(statements), statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _input_the_database_cannot_store_is_refused_cleanly(api: Api) -> None:
    """NUL characters and naive timestamps are 422 on both engines (PostgreSQL would raise)."""
    before = store_state(api.runtime)
    cases = [
        api.get("/api/v1/vendors/a%00b"),
        api.get("/api/v1/vendors", params={"q": "a\x00"}),
        api.get("/api/v1/audit", params={"actor": "x\x00"}),
        api.post("/api/v1/vendors", {"name": "ok", "description": "a\x00b"}),
        api.post("/api/v1/apps", {"name": "A", "vendor": "Acme\x00"}),
        api.post("/api/v1/apps", {"name": "A", "vendor": "Acme", "retention_days": {"x\x00": 1}}),
        api.patch("/api/v1/people/ada@corp.example", {"department": "R\x00D"}),
        api.get("/api/v1/credentials", params={"expires_before": "2026-01-01T00:00:00"}),
    ]
    for r in cases:
        assert r.status_code == 422, r.text
        assert r.json()["errors"]
    assert store_state(api.runtime) == before


def test_q_treats_like_wildcards_literally(api: Api) -> None:
    for name in ("100% Cloud", "1000 Cloud", "a_b", "axb"):
        assert api.post("/api/v1/vendors", {"name": name}).status_code == 201
    assert _names(api.get("/api/v1/vendors", params={"q": "0%"})) == ["100% Cloud"]
    assert _names(api.get("/api/v1/vendors", params={"q": "_"})) == ["a_b"]
    found = _names(api.get("/api/v1/vendors", params={"q": "CLOUD"}))
    assert sorted(found) == ["100% Cloud", "1000 Cloud"]


def test_rejected_changes_leave_the_store_unchanged(any_api: Api) -> None:
    """Dangling references, duplicates, referenced deletes and unstorable text, both engines."""
    seed(any_api)
    _dangling_reference_is_422_naming_the_field(any_api)
    _duplicate_is_409(any_api)
    _deleting_something_referenced_is_409_naming_the_referrer(any_api)
    _input_the_database_cannot_store_is_refused_cleanly(any_api)


def test_lists_filter_and_sort(any_api: Api) -> None:
    seed(any_api)
    _filter_on_unknown_reference_is_422(any_api)
    _sorting(any_api)
    _filters(any_api)


def test_concurrent_writers_keep_names_unique_and_the_chain_linear(any_api: Api) -> None:
    from concurrent.futures import ThreadPoolExecutor

    api = any_api

    def create(name: str) -> int:
        code: int = api.post("/api/v1/vendors", {"name": name}).status_code
        return code

    with ThreadPoolExecutor(max_workers=6) as pool:
        same = list(pool.map(create, ["Race"] * 6))
        distinct = list(pool.map(create, [f"v{i}" for i in range(6)]))
    assert sorted(same) == [201, 409, 409, 409, 409, 409], same
    assert distinct == [201] * 6, distinct
    vendors = api.get("/api/v1/vendors", params={"limit": 100}).json()
    assert vendors["total"] == 7
    creates = [a for a in _audit(api) if a["action"] == "vendor.create"]
    assert len(creates) == vendors["total"]
    assert api.get("/api/v1/audit/verify").json()["ok"] is True
