"""Helpers for the bus tests: deterministic gateway events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ringfence.monitor.events import Event
from ringfence.monitor.parsers import parser_for
from ringfence.store.db import Store

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def gateway_events(n: int, tag: str = "t") -> list[Event]:
    parse = parser_for("ringfence")
    out: list[Event] = []
    for i in range(n):
        rec = {
            "time": (T0 + timedelta(milliseconds=37 * i)).isoformat(),
            "request_id": f"{tag}-{i}",
            "method": "GET",
            "status": 200 if i % 17 else 403,
            "decision": "allow",
            "reason": "ok",
            "latency_ms": 3.0,
            "integration": f"int-{i % 13}",
            "client_ip": f"10.0.{i % 7}.{i % 250}",
            "path_template": "/v1/items",
            "upstream": "api.example.com",
        }
        out.extend(parse(rec))
    return out


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'bus.db'}")
    s.migrate()
    yield s
    s.dispose()
