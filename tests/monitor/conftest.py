"""Monitor test fixtures: an SQLite store for logic that does not depend on the engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ringfence.store.db import Store


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'monitor.db'}")
    s.migrate()
    yield s
    s.dispose()
