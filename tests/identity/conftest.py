"""Fixtures for identity tests: an API app on a migrated store, SCIM tokens, seed inventory."""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ringfence.api.app import create_app
from ringfence.core.clock import FixedClock
from ringfence.core.config import load_settings
from ringfence.identity.roles import ADMIN
from ringfence.identity.scim import ScimTokens
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime
from ringfence.store.db import Store
from ringfence.store.models import App, Integration, Person, Vendor
from tests.gateway.conftest import (  # noqa: F401  (the gateway's fixtures, for end-to-end tests)
    env,
    gw_config,
    gw_runtime,
    template,
    upstream_url,
)


@pytest.fixture(scope="session")
def _migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate once per session; each test gets a copy (migrating per test costs ~1 s)."""
    path = tmp_path_factory.mktemp("identity-template") / "template.db"
    store = Store(f"sqlite:///{path}")
    store.migrate()
    with store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    store.dispose()
    return path


@pytest.fixture
def runtime(
    _migrated_template: Path,
    tmp_path: Path,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Runtime]:
    """Overrides the shared fixture: same initialised SQLite runtime, from the template."""
    monkeypatch.setenv("RINGFENCE_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    db = tmp_path / "identity.db"
    shutil.copyfile(_migrated_template, db)
    settings = load_settings(data_dir=tmp_path / "data", store_url=f"sqlite:///{db}")
    rt = Runtime.open(settings, clock=clock)
    yield rt
    rt.close()


@pytest.fixture
def identity_settings() -> IdentitySettings:
    """Analysts without MFA keep their scopes here, as before session 13: the tests using this
    fixture are about other things. The default (analysts must use MFA) has its own tests in
    test_session13_analyst_mfa.py."""
    return IdentitySettings(cookie_secure=True, delay_base_seconds=0, mfa_required_roles=[ADMIN])


@pytest.fixture
def app(runtime: Runtime, identity_settings: IdentitySettings) -> FastAPI:
    application = create_app(runtime)
    application.state.identity_settings = identity_settings
    return application


@pytest.fixture
def scim_token(runtime: Runtime) -> str:
    return ScimTokens(runtime.store, runtime.clock).issue("okta").token.get_secret_value()


@pytest.fixture
def scim(app: FastAPI, scim_token: str) -> Iterator[TestClient]:
    with TestClient(
        app,
        base_url="https://rf.example",
        headers={"Authorization": f"Bearer {scim_token}"},
    ) as client:
        yield client


@pytest.fixture
def estate(runtime: Runtime) -> dict[str, str]:
    """Alice owns two integrations (CRM→chat sync, a reporting job); Bob owns none."""
    with runtime.store.session() as s:
        vendor = Vendor(name="Acme")
        s.add(vendor)
        s.flush()
        crm = App(name="crm", vendor_id=vendor.id)
        chat = App(name="chat", vendor_id=vendor.id)
        s.add_all([crm, chat])
        s.flush()
        alice = Person(email="alice@example.com", name="Alice")
        bob = Person(email="bob@example.com", name="Bob")
        s.add_all([alice, bob])
        s.flush()
        sync = Integration(
            name="crm-to-chat",
            source_app_id=crm.id,
            destination_app_id=chat.id,
            owner_id=alice.id,
            client_id="crm-chat-sync",
            scopes=["chat:write", "chat:read", "users:read"],
        )
        job = Integration(
            name="crm-report",
            destination_app_id=crm.id,
            owner_id=alice.id,
            scopes=["crm:read"],
        )
        s.add_all([sync, job])
        s.flush()
        return {
            "alice": alice.id,
            "bob": bob.id,
            "sync": sync.id,
            "job": job.id,
            "crm": crm.id,
            "chat": chat.id,
        }
