"""A caller holding only ``mfa:enroll`` / ``self`` reaches no API route but its own profile
and MFA (review 9, #15).

Before: ``/api/v1/classify/*`` depended on ``current_principal`` only, so an admin who had not
passed MFA — or a personal token holding only ``self`` — could scan and redact payloads; the
docs say everything but enrolment is 403 for such a session. The sweep below walks every
``/api/v1`` operation of the API document, so a router added later with the same gap fails
here too.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ringfence.identity.accounts import Accounts
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime

PASSWORD = "correct horse battery"
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
CARD = "4539 1488 0343 6467"
# Routes such a caller is meant to reach: health, the API document, its own profile, MFA,
# its tokens (listing/revoking; minting needs MFA and is refused by its own check).
OPEN = re.compile(r"^/api/v1/(health|openapi\.json|identity/me(/.*)?)$")


@pytest.fixture
def accounts(app: FastAPI, runtime: Runtime, identity_settings: IdentitySettings) -> Accounts:
    app.state.password_hasher = CHEAP
    return Accounts(runtime.store, runtime.vault, runtime.clock, identity_settings, CHEAP)


def _admin_without_mfa(app: FastAPI, accounts: Accounts) -> TestClient:
    accounts.create_user("root@example.com", roles=["admin"], password=PASSWORD)
    web = TestClient(app, base_url="https://rf.example", follow_redirects=False)
    r = web.post("/auth/login", json={"username": "root@example.com", "password": PASSWORD})
    assert r.status_code == 200 and r.json()["must_enroll_mfa"] is True
    web.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    assert sorted(web.get("/api/v1/identity/me").json()["scopes"]) == ["mfa:enroll", "self"]
    return web


def test_an_admin_without_mfa_cannot_classify(app: FastAPI, accounts: Accounts) -> None:
    with _admin_without_mfa(app, accounts) as web:
        scan = web.post("/api/v1/classify/scan", json={"text": f"card {CARD}"})
        assert scan.status_code == 403, scan.text
        assert scan.json()["code"] == "insufficient_scope"
        assert web.post("/api/v1/classify/redact", json={"c": CARD}).status_code == 403
        assert web.get("/api/v1/classify/types").status_code == 403


def test_a_token_holding_only_self_cannot_classify_but_one_with_read_can(
    app: FastAPI, accounts: Accounts
) -> None:
    user = accounts.create_user("ann@example.com", roles=["auditor"], password=PASSWORD)
    only_self = accounts.issue_token(user.id, "me", ["self"], 30, actor="t")
    reader = accounts.issue_token(user.id, "reader", ["read"], 30, actor="t")
    with TestClient(app, base_url="https://rf.example") as c:
        h = {"Authorization": f"Bearer {only_self.token.get_secret_value()}"}
        assert c.get("/api/v1/classify/types", headers=h).status_code == 403
        h = {"Authorization": f"Bearer {reader.token.get_secret_value()}"}
        assert c.get("/api/v1/classify/types", headers=h).status_code == 200


def _call(web: TestClient, method: str, path: str) -> Any:
    url = re.sub(r"\{[^}]+\}", "x", path)
    if method in ("GET", "HEAD", "DELETE"):
        return web.request(method, url)
    return web.request(method, url, json={})


def test_no_api_route_but_profile_and_mfa_answers_an_admin_without_mfa(
    app: FastAPI, accounts: Accounts
) -> None:
    reached, tried = [], 0
    with _admin_without_mfa(app, accounts) as web:
        paths = web.get("/api/v1/openapi.json").json()["paths"]
        for path, operations in sorted(paths.items()):
            if not path.startswith("/api/v1/") or OPEN.match(path):
                continue
            for method in sorted(m.upper() for m in operations if m != "parameters"):
                r = _call(web, method, path)
                tried += 1
                if r.status_code < 400 or r.status_code >= 500:
                    reached.append((method, path, r.status_code))
    assert tried > 50 and reached == []
