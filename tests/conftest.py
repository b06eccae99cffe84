"""Shared fixtures: an isolated data dir per test, stores on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import os
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


@pytest.fixture
def runtime(settings: Settings, clock: FixedClock) -> Iterator[Runtime]:
    initialise(settings)
    rt = Runtime.open(settings, clock=clock)
    yield rt
    rt.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test on the embedded engine and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
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
