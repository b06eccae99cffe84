"""A snapshot reads each vendor list once, however many of its parts derive from it.

Okta's grants walked the users and apps again, Google's and Slack's apps walked every user's
grants again (one call per user against the tenant's quota), Entra's grants listed the
service principals again.
"""

from __future__ import annotations

from collections import Counter

import pytest

from ringfence.connectors import Connector
from ringfence.demo.fakes import FAKES, RunningFake
from tests.connectors.conftest import Sleeps, connect


def _gets(server: RunningFake) -> Counter[str]:
    return Counter(path for method, path in server.fake.requests if method == "GET")


@pytest.mark.parametrize("vendor", sorted(FAKES))
def test_each_list_is_read_once_per_snapshot(
    vendor: str, servers: dict[str, RunningFake], sleeps: Sleeps, fake_token: str
) -> None:
    server = servers[vendor]
    conn: Connector = connect(server, vendor, sleeps)
    try:
        # Each part alone: what it reads from the vendor.
        alone: dict[str, Counter[str]] = {}
        results = {}
        for part in ("people", "apps", "grants"):
            server.fake.reset()
            results[part] = getattr(conn, part)()
            alone[part] = _gets(server)
        server.fake.reset()
        snap = conn.snapshot()
        together = _gets(server)
    finally:
        conn.close()
    # The same data as the parts pulled one by one ...
    for part in ("people", "apps", "grants"):
        got = getattr(snap, part)
        assert got.items == results[part].items, part
        assert got.error is None
    # ... reading no list more often than the part that reads it most.
    for path, n in together.items():
        most = max(alone[part][path] for part in alone)
        assert n == most, (path, n, most)
    # Outside a snapshot nothing is remembered: a second call reads the vendor again.
    conn = connect(server, vendor, sleeps)
    try:
        server.fake.reset()
        conn.grants()
        once = sum(_gets(server).values())
        conn.grants()
        assert sum(_gets(server).values()) == 2 * once
    finally:
        conn.close()
