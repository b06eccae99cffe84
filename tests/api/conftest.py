"""Fixtures for the REST API tests: an app on a runtime, tokens, a small seeded estate."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ringfence.api import create_app
from ringfence.core.clock import FixedClock
from ringfence.core.config import load_settings
from ringfence.runtime import Runtime, initialise
from ringfence.store.apitokens import ApiTokens
from ringfence.store.models import Base

# Who created the fixtures' control-plane tokens: a person no test approves as (four eyes
# treat a token's requests as its creator's, and refuse a token whose creator is no person).
OPERATOR = "user:ops-admin"


@dataclass
class Api:
    client: TestClient
    runtime: Runtime
    clock: FixedClock
    rw: dict[str, str]
    ro: dict[str, str]

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers=self.rw, **kw)

    def post(self, url: str, json: Any = None, **kw: Any) -> Any:
        return self.client.post(url, json=json, headers=self.rw, **kw)

    def patch(self, url: str, json: Any = None, **kw: Any) -> Any:
        return self.client.patch(url, json=json, headers=self.rw, **kw)

    def delete(self, url: str, **kw: Any) -> Any:
        return self.client.delete(url, headers=self.rw, **kw)

    def token(
        self,
        name: str,
        scopes: list[str],
        ttl_days: int | None = 30,
        created_by: str | None = OPERATOR,
    ) -> str:
        issued = ApiTokens(self.runtime.store, self.clock).issue(
            name, scopes, ttl_days, created_by=created_by
        )
        return issued.token.get_secret_value()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _tokens(runtime: Runtime, clock: FixedClock) -> tuple[str, str]:
    tokens = ApiTokens(runtime.store, clock)
    rw = tokens.issue("admin-bot", ["read", "write"], 30, created_by=OPERATOR)
    ro = tokens.issue("reader", ["read"], 30, created_by=OPERATOR)
    return rw.token.get_secret_value(), ro.token.get_secret_value()


def _make(runtime: Runtime, clock: FixedClock, rw: str = "", ro: str = "") -> Iterator[Api]:
    if not rw:
        rw, ro = _tokens(runtime, clock)
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        yield Api(client, runtime, clock, bearer(rw), bearer(ro))


@dataclass(frozen=True)
class _Template:
    data_dir: Path
    rw: str
    ro: str


def _build_template(root: Path, *, seeded: bool) -> _Template:
    """An initialised SQLite data dir (tokens issued, optionally seeded), built once per run."""
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("RINGFENCE_") and key != "RINGFENCE_REQUIRE_SERVICES":
                mp.delenv(key)
        mp.setenv("RINGFENCE_SETTINGS_FILE", str(root / "no-settings.yaml"))
        settings = load_settings(data_dir=root / "data")
        initialise(settings)
        clock = FixedClock()
        runtime = Runtime.open(settings, clock=clock)
        try:
            rw, ro = _tokens(runtime, clock)
            if seeded:
                for api in _make(runtime, clock, rw, ro):
                    seed(api)
        finally:
            runtime.close()
    return _Template(root / "data", rw, ro)


@pytest.fixture(scope="session")
def _plain_template(tmp_path_factory: pytest.TempPathFactory) -> _Template:
    return _build_template(tmp_path_factory.mktemp("api-plain"), seeded=False)


@pytest.fixture(scope="session")
def _seeded_template(tmp_path_factory: pytest.TempPathFactory) -> _Template:
    return _build_template(tmp_path_factory.mktemp("api-seeded"), seeded=True)


def _from_template(template: _Template, tmp_path: Path, clock: FixedClock) -> Iterator[Api]:
    data_dir = tmp_path / "api-data"
    shutil.copytree(template.data_dir, data_dir)  # copy2 keeps the key file's 0600
    runtime = Runtime.open(load_settings(data_dir=data_dir), clock=clock)
    try:
        yield from _make(runtime, clock, template.rw, template.ro)
    finally:
        runtime.close()


@pytest.fixture
def api(_plain_template: _Template, tmp_path: Path, clock: FixedClock) -> Iterator[Api]:
    """The API on SQLite (fast; for HTTP-level behaviour), empty inventory."""
    yield from _from_template(_plain_template, tmp_path, clock)


@pytest.fixture
def seeded(_seeded_template: _Template, tmp_path: Path, clock: FixedClock) -> Iterator[Api]:
    """The API on SQLite with :func:`seed` already applied."""
    yield from _from_template(_seeded_template, tmp_path, clock)


@pytest.fixture
def any_api(any_runtime: Runtime, clock: FixedClock) -> Iterator[Api]:
    """The API on SQLite AND PostgreSQL (for the repository layer behind it)."""
    yield from _make(any_runtime, clock)


def seed(api: Api) -> None:
    """A small estate: 2 vendors, 2 people, 3 apps, 2 integrations, a flow, a credential."""
    for body, url in [
        ({"name": "Acme"}, "/api/v1/vendors"),
        ({"name": "Globex", "website": "https://globex.example"}, "/api/v1/vendors"),
        ({"email": "ada@corp.example", "name": "Ada"}, "/api/v1/people"),
        ({"email": "bob@corp.example", "name": "Bob", "department": "IT"}, "/api/v1/people"),
        (
            {
                "name": "CRM",
                "vendor": "Acme",
                "owner": "ada@corp.example",
                "clearance": "confidential",
                "data_classes": ["internal", "confidential"],
            },
            "/api/v1/apps",
        ),
        ({"name": "HRIS", "vendor": "Acme", "clearance": "restricted"}, "/api/v1/apps"),
        ({"name": "Chat", "vendor": "Globex", "sanctioned": False}, "/api/v1/apps"),
        (
            {
                "name": "crm-to-hris",
                "source_app": "CRM",
                "destination_app": "HRIS",
                "owner": "ada@corp.example",
                "scopes": ["employees:read"],
                "data_classes": ["confidential"],
            },
            "/api/v1/integrations",
        ),
        (
            {
                "name": "chat-bot",
                "kind": "service_account",
                "destination_app": "Chat",
                "owner": "bob@corp.example",
                "client_id": "bot-1",
            },
            "/api/v1/integrations",
        ),
        (
            {
                "name": "crm-hris-sync",
                "source_app": "CRM",
                "destination_app": "HRIS",
                "integration": "crm-to-hris",
                "data_classes": ["confidential"],
            },
            "/api/v1/flows",
        ),
        (
            {
                "name": "chat-bot-key",
                "kind": "api_key",
                "integration": "chat-bot",
                "ref": "${env:CHAT_BOT_KEY}",
            },
            "/api/v1/credentials",
        ),
    ]:
        r = api.post(url, body)
        assert r.status_code == 201, (url, r.json())


def store_state(runtime: Runtime) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (api_tokens.last_used_at aside), to prove nothing changed."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with runtime.store.session() as s:
        for table in Base.metadata.sorted_tables:
            cols = [c for c in table.columns if c.name != "last_used_at"]
            rows = s.execute(select(*cols)).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out
