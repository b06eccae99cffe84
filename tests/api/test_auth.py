"""Every /api/v1 route but /health needs a valid bearer token with the right scope."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ringfence.store.apitokens import ApiTokens
from tests.api.conftest import Api, bearer, store_state


def _assert_401(r: object, code: str) -> None:
    assert r.status_code == 401  # type: ignore[attr-defined]
    assert r.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    assert r.headers["www-authenticate"].startswith("Bearer")  # type: ignore[attr-defined]
    assert r.json()["code"] == code  # type: ignore[attr-defined]


def test_health_needs_no_token(api: Api) -> None:
    r = api.client.get("/api/v1/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "path", ["/api/v1/vendors", "/api/v1/apps/x", "/api/v1/audit", "/api/v1/audit/verify"]
)
def test_missing_token_is_401(api: Api, path: str) -> None:
    _assert_401(api.client.get(path), "unauthenticated")


def test_missing_token_on_write_is_401_and_changes_nothing(api: Api) -> None:
    before = store_state(api.runtime)
    _assert_401(api.client.post("/api/v1/vendors", json={"name": "A"}), "unauthenticated")
    assert store_state(api.runtime) == before


@pytest.mark.parametrize(
    "header",
    [
        "Bearer rf_cp_000000000000_notarealtokenatallnotarealtokenatall00",
        "Bearer rf_cp_garbage",
        "Bearer something-else",
        "Basic dXNlcjpwYXNz",
        "Bearer ",
        "rf_cp_abc",
    ],
)
def test_bad_token_is_401(api: Api, header: str) -> None:
    _assert_401(
        api.client.get("/api/v1/vendors", headers={"Authorization": header}), "invalid_token"
    )


def test_tampered_token_is_401(api: Api) -> None:
    good = api.rw["Authorization"]
    tampered = good[:-1] + ("A" if good[-1] != "A" else "B")
    _assert_401(
        api.client.get("/api/v1/vendors", headers={"Authorization": tampered}), "invalid_token"
    )


def test_expired_token_is_rejected(api: Api) -> None:
    token = api.token("short", ["read"], ttl_days=1)
    assert api.client.get("/api/v1/vendors", headers=bearer(token)).status_code == 200
    api.clock.advance(days=1, seconds=1)
    _assert_401(api.client.get("/api/v1/vendors", headers=bearer(token)), "invalid_token")


def test_revoked_token_is_rejected(api: Api) -> None:
    token = api.token("to-revoke", ["read"])
    assert api.client.get("/api/v1/vendors", headers=bearer(token)).status_code == 200
    tokens = ApiTokens(api.runtime.store, api.clock)
    (row,) = [t for t in tokens.list() if t.name == "to-revoke"]
    tokens.revoke(row.id)
    _assert_401(api.client.get("/api/v1/vendors", headers=bearer(token)), "invalid_token")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/vendors", {"name": "Nope"}),
        ("PATCH", "/api/v1/vendors/Acme", {"description": "x"}),
        ("DELETE", "/api/v1/vendors/Acme", None),
        ("POST", "/api/v1/integrations/i/quarantine", None),
    ],
)
def test_read_scope_cannot_write(api: Api, method: str, path: str, body: object) -> None:
    api.post("/api/v1/vendors", {"name": "Acme"})
    before = store_state(api.runtime)
    r = api.client.request(method, path, json=body, headers=api.ro)
    assert r.status_code == 403
    assert r.json()["code"] == "insufficient_scope"
    assert store_state(api.runtime) == before


def test_read_scope_can_read(api: Api) -> None:
    api.post("/api/v1/vendors", {"name": "Acme"})
    r = api.client.get("/api/v1/vendors/Acme", headers=api.ro)
    assert r.status_code == 200
    assert r.json()["name"] == "Acme"


def test_write_token_is_the_audit_actor(api: Api) -> None:
    token = api.token("deploy-bot", ["write"])
    r = api.client.post("/api/v1/vendors", json={"name": "Acme"}, headers=bearer(token))
    assert r.status_code == 201
    records = api.get("/api/v1/audit").json()["items"]
    assert [(x["actor"], x["action"]) for x in records] == [("token:deploy-bot", "vendor.create")]


def test_openapi_is_public_and_docs_mention_bearer(api: Api) -> None:
    r = TestClient(api.client.app).get("/api/v1/openapi.json")
    assert r.status_code == 200
    assert "/api/v1/vendors" in r.json()["paths"]
