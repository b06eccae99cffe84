"""A revoked integration cannot be deleted (session 14): revoked is final and its history stays.

Before, ``DELETE /api/v1/integrations/{ref}`` let one person with ``write`` delete a revoked
integration once its credentials and flows were gone: the database cascade deleted its gateway
clients and API keys (no audit record of those), its access-review items and the link of its
incidents, and the same name and ``client_id`` could be registered again, active — so "revoked
is final, and needs two people" was undone by one person in two requests. An estate apply
that leaves a revoked integration out of its ``integrations:`` section deleted it the same way.
SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from ringfence.gateway.clients import create_api_key, create_client
from ringfence.gateway.models import GatewayApiKey, GatewayClient
from ringfence.inventory.estate import EstateInvalid, apply_estate, parse_estate
from ringfence.store import audit
from tests.api.conftest import Api, bearer, seed, store_state
from tests.respond.test_api import _personal_token


def _revoke(api: Api, name: str) -> None:
    """Revoke through the four-eyes request: asked by the fixture token, approved by bob."""
    r = api.post(f"/api/v1/integrations/{name}/revoke", {"reason": "IR-9"})
    assert r.status_code == 202, r.text
    bob = bearer(_personal_token(api, "bob"))
    ok = api.client.post(r.json()["approve"], json={"comment": "confirmed"}, headers=bob)
    assert ok.status_code == 200, ok.text
    assert api.get(f"/api/v1/integrations/{name}").json()["status"] == "revoked"


def _clients(api: Api, integration_id: str) -> int:
    with api.runtime.store.session() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(GatewayClient)
                .where(GatewayClient.integration_id == integration_id)
            )
            or 0
        )


def test_a_revoked_integration_cannot_be_deleted_and_its_name_never_comes_back(
    any_api: Api,
) -> None:
    api = any_api
    seed(api)
    rt = api.runtime
    client = create_client(
        rt.store, rt.clock, integration="chat-bot", name="bot", scopes=["chat:write"]
    )
    key = create_api_key(rt.store, rt.clock, client_id=client.client_id)
    integ: dict[str, Any] = api.get("/api/v1/integrations/chat-bot").json()
    _revoke(api, "chat-bot")
    # What the 409 still_referenced asks first: its credential goes (the credential records
    # a reference, not the identity: deleting it is allowed).
    assert api.delete("/api/v1/credentials/chat-bot-key").status_code == 204

    r = api.delete("/api/v1/integrations/chat-bot")
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "revoked_is_final"
    assert "chat-bot" in r.json()["detail"]

    # Everything it held stays: the integration, its gateway client and API key (revoked).
    kept = api.get("/api/v1/integrations/chat-bot").json()
    assert kept["id"] == integ["id"] and kept["status"] == "revoked"
    assert _clients(api, integ["id"]) == 1
    with rt.store.session() as s:
        assert s.scalar(select(GatewayApiKey.prefix).where(GatewayApiKey.id == key.id))
    # So its name and client_id can never be registered again.
    again = api.post(
        "/api/v1/integrations",
        {
            "name": "chat-bot",
            "kind": "service_account",
            "destination_app": "Chat",
            "client_id": "bot-1",
        },
    )
    assert again.status_code == 409 and again.json()["code"] == "duplicate"
    other_name = api.post(
        "/api/v1/integrations",
        {
            "name": "chat-bot-2",
            "kind": "service_account",
            "destination_app": "Chat",
            "client_id": "bot-1",
        },
    )
    assert other_name.status_code == 409 and other_name.json()["field"] == "client_id"


def test_deleting_an_active_integration_is_unchanged(api: Api) -> None:
    seed(api)
    assert api.delete("/api/v1/credentials/chat-bot-key").status_code == 204
    assert api.delete("/api/v1/integrations/chat-bot").status_code == 204
    assert api.get("/api/v1/integrations/chat-bot").status_code == 404


def _client_records(api: Api) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get(
        "/api/v1/audit", params={"action": "gateway.client.delete", "limit": 100}
    ).json()["items"]
    return items


def test_the_gateway_clients_a_delete_takes_with_it_stay_in_the_audit_log(any_api: Api) -> None:
    """Deleting an integration that is not revoked still deletes its gateway clients and keys
    (a database cascade); each is now an audit record, as everything else that changes."""
    api = any_api
    seed(api)
    rt = api.runtime
    one = create_client(rt.store, rt.clock, integration="chat-bot", name="bot", scopes=["a"])
    key = create_api_key(rt.store, rt.clock, client_id=one.client_id)
    assert api.delete("/api/v1/credentials/chat-bot-key").status_code == 204
    assert api.delete("/api/v1/integrations/chat-bot").status_code == 204
    (record,) = _client_records(api)
    assert record["entity_id"] == one.client_id and record["actor"] == "token:admin-bot"
    assert record["before"] == {
        "name": "bot",
        "integration": "chat-bot",
        "revoked": False,
        "keys": [{"prefix": key.prefix, "revoked": False}],
    }
    assert key.api_key.get_secret_value() not in str(record)  # a prefix, never the key
    assert audit.verify(rt.store).ok


def test_an_estate_delete_records_the_gateway_clients_too(api: Api) -> None:
    rt = api.runtime
    old = "  - {name: old-sync, source: crm, destination: chat}\n"
    assert _apply(api, ESTATE % old).status_code == 200
    client = create_client(rt.store, rt.clock, integration="old-sync", name="job", scopes=["a"])
    assert _apply(api, ESTATE % "").status_code == 200  # not revoked: deleted, as before
    (record,) = _client_records(api)
    assert record["entity_id"] == client.client_id and record["actor"] == "token:admin-bot"
    assert record["before"]["integration"] == "old-sync" and record["before"]["keys"] == []
    assert audit.verify(rt.store).ok


def test_a_revoked_integration_keeps_its_name_and_client_id(any_api: Api) -> None:
    api = any_api
    seed(api)
    _revoke(api, "chat-bot")
    for body in ({"name": "chat-bot-old"}, {"client_id": None}, {"client_id": "bot-9"}):
        r = api.patch("/api/v1/integrations/chat-bot", body)
        assert r.status_code == 409, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "revoked_is_final"
        assert r.json()["field"] == next(iter(body))
    # Nothing that identifies it changes; the rest may (and the same name is no change).
    r = api.patch("/api/v1/integrations/chat-bot", {"name": "chat-bot", "description": "gone"})
    assert r.status_code == 200, r.text
    got = api.get("/api/v1/integrations/chat-bot").json()
    assert (got["name"], got["client_id"], got["status"]) == ("chat-bot", "bot-1", "revoked")


ESTATE = """\
apiVersion: ringfence/v1
people:
  - {email: ann@example.com, name: Ann}
vendors:
  - {name: Acme}
apps:
  - {name: crm, vendor: Acme, owner: ann@example.com, clearance: confidential}
  - {name: chat, vendor: Acme, owner: ann@example.com, clearance: internal}
integrations:
  - {name: crm-sync, source: crm, destination: chat, owner: ann@example.com}
%s"""
OLD = "  - {name: old-sync, source: crm, destination: chat, client_id: old-1, status: revoked%s}\n"
YAML = {"Content-Type": "application/yaml"}


def _apply(api: Api, text: str) -> Any:
    return api.client.post("/api/v1/estate/apply", content=text, headers={**api.rw, **YAML})


def test_an_estate_file_cannot_delete_a_revoked_integration(any_api: Api) -> None:
    api = any_api
    assert _apply(api, ESTATE % (OLD % "")).status_code == 200
    before = store_state(api.runtime)
    for text in (
        ESTATE % "",  # left out: would delete it
        ESTATE % (OLD % ", client_id: null").replace("client_id: old-1, ", ""),
        # handed over: kept without its client_id, which a new integration takes
        ESTATE
        % (
            (OLD % "").replace("client_id: old-1, ", "")
            + "  - {name: new-sync, source: crm, destination: chat, client_id: old-1}\n"
        ),
    ):
        r = _apply(api, text)
        assert r.status_code == 400, (text, r.text)
        assert r.json()["code"] == "estate_invalid"
        assert "old-sync" in r.text and "revoked" in r.text
        assert store_state(api.runtime) == before  # nothing applied
    # the server operator's `ringfence apply` is held to it too (a plan check)
    with pytest.raises(EstateInvalid):
        apply_estate(api.runtime.store, parse_estate(ESTATE % ""), actor="cli")
    assert api.get("/api/v1/integrations/old-sync").json()["status"] == "revoked"
    # Kept in the file with status: revoked, every other change applies.
    assert _apply(api, ESTATE % (OLD % ", description: retired")).status_code == 200


def test_an_integration_whose_revoke_waits_is_not_deleted(any_api: Api) -> None:
    """Deleting an integration while its revoke waits for a second person set the request
    aside (its incident lost the integration) and freed the name and client_id: one person
    undid a pending four-eyes decision."""
    api = any_api
    seed(api)
    asked = api.post("/api/v1/integrations/chat-bot/revoke", {"reason": "IR-10"})
    assert asked.status_code == 202
    incident = asked.json()["incident"]
    assert api.delete("/api/v1/credentials/chat-bot-key").status_code == 204
    r = api.delete("/api/v1/integrations/chat-bot")
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "revoke_pending" and r.json()["incident"] == incident
    assert api.get("/api/v1/integrations/chat-bot").json()["status"] == "quarantined"
    # Once a second person decides (here: skips it), deleting is as before.
    bob = bearer(_personal_token(api, "bob"))
    skip = api.client.post(
        f"/api/v1/respond/incidents/{incident}/steps/2/skip",
        json={"comment": "false alarm"},
        headers=bob,
    )
    assert skip.status_code == 200, skip.text
    assert api.delete("/api/v1/integrations/chat-bot").status_code == 204


def test_an_estate_file_cannot_delete_an_integration_whose_revoke_waits(api: Api) -> None:
    old = "  - {name: old-sync, source: crm, destination: chat}\n"
    assert _apply(api, ESTATE % old).status_code == 200
    assert api.post("/api/v1/integrations/old-sync/revoke").status_code == 202
    before = store_state(api.runtime)
    r = _apply(api, ESTATE % "")
    assert r.status_code == 400 and r.json()["code"] == "estate_invalid", r.text
    assert "waits for a second person" in r.text and "old-sync" in r.text
    assert store_state(api.runtime) == before
