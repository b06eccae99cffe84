"""The respond tests' fixtures: the REST API's (for the respond endpoints) and the loopback
Okta and Microsoft Graph fakes (for rotations)."""

from collections.abc import Iterator
from typing import Any

import pytest

from ringfence.demo.fakes import Microsoft365Fake, OktaFake, serve
from tests.api.conftest import _plain_template, api  # noqa: F401


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("RF_TEST_SAAS_TOKEN", "test-token")
    servers = {"okta": serve(OktaFake()), "microsoft365": serve(Microsoft365Fake())}
    try:
        yield servers
    finally:
        for server in servers.values():
            server.stop()
