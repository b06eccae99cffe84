"""The API refuses a name that is another entity's id, and an integration name that is another
integration's OAuth client id or the reverse (session 13): lookups take "id or name" and the
responder maps an alert's entity by name or client id, so they would pick the wrong one."""

from __future__ import annotations

from tests.api.conftest import Api, seed


def _problem(r: object, field: str, *words: str) -> None:
    assert r.status_code == 409, r.text  # type: ignore[attr-defined]
    assert r.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert body["code"] == "ambiguous_name" and body["field"] == field
    for word in words:
        assert word in body["detail"]


def test_integration_name_or_client_id_colliding_is_refused(api: Api) -> None:
    seed(api)
    base = {"kind": "service_account", "destination_app": "Chat"}
    # named like chat-bot's client id
    r = api.post("/api/v1/integrations", {"name": "bot-1", **base})
    _problem(r, "name", "'bot-1'", "client_id", "'chat-bot'")
    # client id = another integration's name
    r = api.post("/api/v1/integrations", {"name": "bot-2", "client_id": "crm-to-hris", **base})
    _problem(r, "client_id", "'crm-to-hris'", "'crm-to-hris'")
    # renamed to another's id / client id
    hris = api.get("/api/v1/integrations/crm-to-hris").json()["id"]
    _problem(api.patch("/api/v1/integrations/chat-bot", {"name": hris}), "name", "id")
    _problem(api.patch("/api/v1/integrations/crm-to-hris", {"name": "bot-1"}), "name", "bot-1")
    _problem(api.patch("/api/v1/integrations/chat-bot", {"client_id": hris}), "client_id", "id")
    # its own client id as its name is not ambiguous
    r = api.patch("/api/v1/integrations/chat-bot", {"name": "bot-1"})
    assert r.status_code == 200, r.text
    assert api.get("/api/v1/integrations/bot-1").json()["client_id"] == "bot-1"


def test_vendor_and_app_named_like_another_id_is_refused(api: Api) -> None:
    seed(api)
    acme = api.get("/api/v1/vendors/Acme").json()["id"]
    _problem(api.post("/api/v1/vendors", {"name": acme}), "name", "id of vendor 'Acme'")
    crm = api.get("/api/v1/apps/CRM").json()["id"]
    _problem(api.patch("/api/v1/apps/HRIS", {"name": crm}), "name", "id of app 'CRM'")
    assert api.get(f"/api/v1/apps/{crm}").json()["name"] == "CRM"
