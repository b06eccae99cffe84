"""Fixtures: each vendor fake on a loopback port, and a connector pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ringfence.connectors import Connector, ConnectorConfig, build_connector
from ringfence.demo.fakes import FakeVendor, RunningFake, connector_settings, serve, serve_all


class Sleeps(list[float]):
    """Records requested pauses instead of sleeping (tests stay fast and deterministic)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def fake_token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("RF_TEST_SAAS_TOKEN", "test-token")
    return "test-token"


def running(fake: FakeVendor) -> Iterator[RunningFake]:
    server = serve(fake)
    try:
        yield server
    finally:
        server.stop()


def connect(server: RunningFake, vendor: str, sleeps: Sleeps, page_size: int = 2) -> Connector:
    base_url, options = connector_settings(vendor, server.url)
    cfg = ConnectorConfig(
        vendor=vendor,
        base_url=base_url,
        credential_ref="env:RF_TEST_SAAS_TOKEN",
        options=options,
        page_size=page_size,
        max_retries=3,
    )
    return build_connector(cfg, sleep=sleeps)


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, RunningFake]]:
    """One fake per vendor for the whole module (tests reset the one they use)."""
    started = serve_all()
    yield started
    for s in started.values():
        s.stop()
