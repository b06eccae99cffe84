"""Integration owners reach only their own integrations. The ownership check must resolve
``{ref}`` exactly as the route does (id first, then a unique name): otherwise an owner whose
integration is *named* like another integration's id passes the check for that other one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ringfence.api.app import create_app
from ringfence.core.config import load_settings
from ringfence.core.ids import new_id
from ringfence.identity.accounts import Accounts
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime, initialise
from ringfence.store.models import App, Integration, IntegrationStatus, Person, Vendor
from tests.services import postgres_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine_runtime(
    request: pytest.FixtureRequest,
    runtime: Runtime,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Runtime]:
    """The shared SQLite runtime, or one on a fresh PostgreSQL database (its OR plans differ)."""
    if request.param == "sqlite":
        yield runtime
        return
    with postgres_database() as url:
        settings = load_settings(data_dir=tmp_path / "pg", store_url=url)
        initialise(settings)
        rt = Runtime.open(settings, clock=runtime.clock)
        try:
            yield rt
        finally:
            rt.close()


@pytest.fixture
def client(engine_runtime: Runtime) -> Iterator[TestClient]:
    application = create_app(engine_runtime)
    application.state.identity_settings = IdentitySettings(delay_base_seconds=0)
    with TestClient(application, base_url="https://rf.example") as c:
        yield c


@pytest.fixture
def setup(engine_runtime: Runtime) -> dict[str, str]:
    runtime = engine_runtime
    with runtime.store.session() as s:
        vendor = Vendor(name="Acme")
        s.add(vendor)
        s.flush()
        crm = App(name="crm", vendor_id=vendor.id)
        alice = Person(email="alice@example.com", name="Alice")
        mallory = Person(email="mallory@example.com", name="Mallory")
        s.add_all([crm, alice, mallory])
        s.flush()
        # an integration whose name is the victim's id (e.g. an observed app named by a SaaS),
        # stored first, so a table scan meets it before the victim
        victim_id = new_id()
        own = Integration(name=victim_id, destination_app_id=crm.id, owner_id=mallory.id)
        s.add(own)
        s.flush()
        victim = Integration(
            id=victim_id, name="payroll-sync", destination_app_id=crm.id, owner_id=alice.id
        )
        s.add(victim)
        s.flush()
        ids = {"victim": victim.id, "own": own.id}
    accounts = Accounts(runtime.store, runtime.vault, runtime.clock, IdentitySettings())
    user = accounts.create_user(
        "mallory@example.com", roles=["integration-owner"], password="correct horse battery"
    )
    pat = accounts.issue_token(user.id, "t", ["integrations:own"], 5, actor="test")
    ids["token"] = pat.token.get_secret_value()
    return ids


def test_owner_cannot_reach_another_integration_through_a_name_collision(
    client: TestClient, engine_runtime: Runtime, setup: dict[str, str]
) -> None:
    headers = {"Authorization": f"Bearer {setup['token']}"}
    got = client.get(f"/api/v1/integrations/{setup['victim']}", headers=headers)
    assert got.status_code == 403, got.text
    quarantined = client.post(f"/api/v1/integrations/{setup['victim']}/quarantine", headers=headers)
    assert quarantined.status_code == 403, quarantined.text
    with engine_runtime.store.session() as s:
        assert s.get_one(Integration, setup["victim"]).status is IntegrationStatus.ACTIVE


def test_owner_still_reaches_own_integration(client: TestClient, setup: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {setup['token']}"}
    got = client.get(f"/api/v1/integrations/{setup['own']}", headers=headers)
    assert got.status_code == 200, got.text
    assert got.json()["id"] == setup["own"]
