"""Session 14: an identity route answers a caller who may not use it 403 before it looks at the
body — never a 422 that lists the fields the route expects.

Every ``/api/v1/identity`` route checked its scope in the handler (``need(...)``), which runs
after FastAPI has validated the body and the query: a control-plane token without
``identity:admin`` that POSTed ``{}`` to ``/users`` learned ``username: Field required; roles:
Field required``. The scopes are now route dependencies, which FastAPI resolves first. The
sweep walks the OpenAPI document, so a route added later is held to the same rule.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ringfence.core.clock import FixedClock
from ringfence.identity.accounts import Accounts
from ringfence.runtime import Runtime
from ringfence.store.apitokens import ApiTokens
from tests.identity.test_accounts import _token_for, accounts  # noqa: F401  (fixture)

BODY_METHODS = ("POST", "PUT", "PATCH")


def _identity_operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    return [
        (method.upper(), path, op)
        for path, ops in sorted(paths.items())
        if path.startswith("/api/v1/identity/")
        for method, op in sorted(ops.items())
        if method.upper() in BODY_METHODS
    ]


@pytest.fixture
def client(app: FastAPI) -> Any:
    with TestClient(app, base_url="https://rf.example") as c:
        yield c


@pytest.fixture
def plain_token(runtime: Runtime) -> str:
    """A control-plane token: read and write, but none of identity's own scopes."""
    issued = ApiTokens(runtime.store, runtime.clock).issue("ci", ["read", "write"])
    return issued.token.get_secret_value()


def test_a_caller_without_the_scope_gets_403_whatever_the_body(
    client: TestClient, plain_token: str
) -> None:
    swept = []
    for method, path, _op in _identity_operations(client):
        url = re.sub(r"\{[^}]+\}", "x", path)
        for body in ({"bogus": 1}, {}, [1, 2]):
            r = client.request(
                method, url, json=body, headers={"Authorization": f"Bearer {plain_token}"}
            )
            assert r.status_code == 403, (method, path, body, r.status_code, r.text[:300])
            problem = r.json()
            assert problem["code"] in ("insufficient_scope", "session_required"), problem
            # nothing of the body's schema: no field list, no validation wording
            assert "errors" not in problem and "Field required" not in r.text
        swept.append((method, path))
    # the routes with bodies this sweep must reach (more may be added)
    for must in (
        ("POST", "/api/v1/identity/users"),
        ("PATCH", "/api/v1/identity/users/{ref}"),
        ("POST", "/api/v1/identity/scim-tokens"),
        ("POST", "/api/v1/identity/me/tokens"),
        ("POST", "/api/v1/identity/me/mfa/totp/confirm"),
        ("POST", "/api/v1/identity/me/mfa/verify"),
        ("PUT", "/api/v1/identity/integrations/{ref}/owner"),
        ("POST", "/api/v1/identity/people/{ref}/deactivate"),
        ("POST", "/api/v1/identity/reviews"),
        ("POST", "/api/v1/identity/reviews/{ref}/items/{item_id}/decision"),
    ):
        assert must in swept, must


def test_a_query_parameter_is_not_judged_before_the_scope_either_guard(
    client: TestClient, plain_token: str
) -> None:
    r = client.get(
        "/api/v1/identity/reviews/x/export",
        params={"format": ["a", "b"]},
        headers={"Authorization": f"Bearer {plain_token}"},
    )
    assert r.status_code == 403 and r.json()["code"] == "insufficient_scope"


def test_an_unauthenticated_caller_still_gets_401_first(client: TestClient) -> None:
    for method, path, _op in _identity_operations(client):
        url = re.sub(r"\{[^}]+\}", "x", path)
        r = client.request(method, url, json={"bogus": 1})
        assert r.status_code == 401, (method, path, r.status_code)


def test_a_caller_with_the_scope_still_gets_the_validation_error(
    client: TestClient,
    accounts: Accounts,  # noqa: F811  (the fixture imported above)
    clock: FixedClock,
) -> None:
    admin = _token_for(accounts, clock, "root@example.com", ["admin"])
    r = client.post("/api/v1/identity/scim-tokens", json={"bogus": 1}, headers=admin)
    assert r.status_code == 422 and "name" in r.text
    r = client.post("/api/v1/identity/users", json={}, headers=admin)
    assert r.status_code == 422 and "username" in r.text
    # and an auditor (a user, not a control-plane token) is refused before validation
    auditor = _token_for(accounts, clock, "aud@example.com", ["auditor"])
    r = client.post("/api/v1/identity/users", json={}, headers=auditor)
    assert r.status_code == 403 and "username" not in r.text
