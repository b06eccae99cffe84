"""An integration owner whose account is linked to no inventory person owns nothing in the
console (review 9, #12). Before: the owner filter ``owner_id == person_id`` with a None
person_id compiled to ``IS NULL`` and listed every ownerless integration (names, scopes,
descriptions), while the API answered 403."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from ringfence.identity.accounts import Accounts
from ringfence.identity.settings import IdentitySettings
from ringfence.inventory.estate import apply_estate, parse_estate
from ringfence.runtime import Runtime
from ringfence.store.models import App, Integration
from tests.web.test_console import CHEAP, ESTATE, PASSWORD, _sign_in


@pytest.fixture
def accounts(app: FastAPI, runtime: Runtime, identity_settings: IdentitySettings) -> Accounts:
    app.state.password_hasher = CHEAP
    apply_estate(runtime.store, parse_estate(ESTATE), actor="t", clock=runtime.clock)
    return Accounts(runtime.store, runtime.vault, runtime.clock, identity_settings, CHEAP)


@pytest.fixture
def web(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://rf.example", follow_redirects=False) as client:
        yield client


def test_an_owner_linked_to_no_person_sees_no_integration(
    accounts: Accounts, web: TestClient, runtime: Runtime
) -> None:
    with runtime.store.session() as s:
        crm = s.scalars(select(App).where(App.name == "crm")).one()
        s.add(
            Integration(
                name="payroll-export",
                destination_app_id=crm.id,
                owner_id=None,
                scopes=["crm:admin"],
                description="payroll export",
            )
        )
    user = accounts.create_user("unlinked-owner", roles=["integration-owner"], password=PASSWORD)
    assert user.person_id is None
    _sign_in(web, "unlinked-owner")
    listing = web.get("/console/integrations")
    assert listing.status_code == 200
    for leaked in ("payroll-export", "crm:admin", "payroll export", "crm-sync", "chat-export"):
        assert leaked not in listing.text, leaked
    dashboard = web.get("/console/")
    assert dashboard.status_code == 200
    # the integrations card counts none (before: "active 1", the ownerless one)
    assert 'class="status active"' not in dashboard.text and "<li>none</li>" in dashboard.text
