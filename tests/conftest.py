"""Shared fixtures: an isolated data dir per test, stores on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ringfence.core.clock import FixedClock
from ringfence.core.config import Settings, load_settings
from ringfence.runtime import Runtime, initialise
from ringfence.store.db import Store
from tests.services import postgres_database


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # No test may see the developer's own settings, key or data directory.
    for key in list(os.environ):
        if key.startswith("RINGFENCE_") and key not in (
            "RINGFENCE_REQUIRE_SERVICES",
            "RINGFENCE_TEST_PG_URL",
            "RINGFENCE_TEST_REDIS_URL",
            "RINGFENCE_TEST_NATS_URL",
        ):
            monkeypatch.delenv(key)
    monkeypatch.setenv("RINGFENCE_SETTINGS_FILE", str(tmp_path / "no-settings.yaml"))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data")


@pytest.fixture(scope="session")
def _template_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One initialised data dir (key + migrated SQLite) per test process, copied per test."""
    data = tmp_path_factory.mktemp("template") / "data"
    initialise(load_settings(data_dir=data))
    return data


@pytest.fixture(scope="session")
def _pg_template() -> Iterator[str | None]:
    """A migrated PostgreSQL database per test process that test databases are cloned from."""
    from sqlalchemy import create_engine, text

    from tests.services import PG_ADMIN_URL, port_open

    if not port_open("127.0.0.1", 5432):
        yield None
        return
    name = f"rf_tpl_{secrets.token_hex(6)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception:
        admin.dispose()
        yield None
        return
    store = Store(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    store.migrate()
    store.dispose()
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def runtime(settings: Settings, clock: FixedClock, _template_data_dir: Path) -> Iterator[Runtime]:
    shutil.copytree(_template_data_dir, settings.data_dir)
    rt = Runtime.open(settings, clock=clock)
    yield rt
    rt.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(
    request: pytest.FixtureRequest, tmp_path: Path, _template_data_dir: Path
) -> Iterator[str]:
    """The same test on the embedded engine and on PostgreSQL (both already migrated)."""
    if request.param == "sqlite":
        shutil.copy2(_template_data_dir / "ringfence.db", tmp_path / "store.db")
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        template = request.getfixturevalue("_pg_template")
        with postgres_database(template=template) as url:
            yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def blank_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (no schema) on each engine, for the migration tests."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'blank.db'}"
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = Store(store_url)
    s.migrate()
    yield s
    s.dispose()


@pytest.fixture
def any_runtime(
    store_url: str, tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Runtime]:
    """A runtime on SQLite and on PostgreSQL, master key from the environment."""
    monkeypatch.setenv("RINGFENCE_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    settings = load_settings(data_dir=tmp_path / "data", store_url=store_url)
    initialise(settings)
    rt = Runtime.open(settings, clock=clock)
    yield rt
    rt.close()
