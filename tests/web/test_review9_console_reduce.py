"""The console's review form offers only scopes the integration still holds, and a forged
"keep" of a scope removed after the campaign started is refused (review 9, finding 3)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from ringfence.core.clock import FixedClock
from ringfence.identity.accounts import Accounts
from ringfence.identity.settings import IdentitySettings
from ringfence.inventory.estate import apply_estate, parse_estate
from ringfence.runtime import Runtime
from ringfence.store.models import Integration
from tests.web.test_console import CHEAP, ESTATE, PASSWORD, _crm_review, _csrf, _sign_in


@pytest.fixture
def accounts(app: FastAPI, runtime: Runtime, identity_settings: IdentitySettings) -> Accounts:
    app.state.password_hasher = CHEAP
    apply_estate(runtime.store, parse_estate(ESTATE), actor="t", clock=runtime.clock)
    return Accounts(runtime.store, runtime.vault, runtime.clock, identity_settings, CHEAP)


@pytest.fixture
def web(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://rf.example", follow_redirects=False) as client:
        yield client


def _scopes(runtime: Runtime, name: str) -> list[str]:
    with runtime.store.session() as s:
        return sorted(s.scalars(select(Integration).where(Integration.name == name)).one().scopes)


def test_console_reduce_cannot_regrant_a_scope_removed_after_the_campaign_started(
    accounts: Accounts,
    web: TestClient,
    runtime: Runtime,
    clock: FixedClock,
) -> None:
    _crm_review(runtime, clock)  # crm-sync granted crm:read, chat:write at the start
    with runtime.store.session() as s:
        sync = s.scalars(select(Integration).where(Integration.name == "crm-sync")).one()
        sync.scopes = ["crm:read"]  # the security team cuts chat:write afterwards
    # an analyst decides (the owner may not keep or reduce her own: segregation of duties)
    accounts.create_user("ana@example.com", roles=["security-analyst"], password=PASSWORD)
    _sign_in(web, "ana@example.com")
    page = web.get("/console/reviews")
    assert page.status_code == 200
    row = page.text.split('id="item-crm-sync"', 1)[1].split("</tr>", 1)[0]
    assert 'name="keep:crm:read"' in row
    assert 'name="keep:chat:write"' not in row  # not offered any more
    assert "chat:write (removed since the campaign started" in row
    m = re.search(r"/console/reviews/[^/]+/items/[^/]+/decision", row)
    assert m
    forged = {
        "decision": "reduce",
        "keep:crm:read": "on",
        "keep:chat:write": "on",
        "comment": "least privilege",
        "csrf_token": _csrf(page.text),
    }
    r = web.post(m.group(0), data=forged)
    assert r.status_code == 409 and "chat:write" in r.text
    assert _scopes(runtime, "crm-sync") == ["crm:read"]
