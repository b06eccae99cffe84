"""SCIM: out-of-range numbers and unstorable text (NUL on PostgreSQL) are a SCIM 400, never a
500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ringfence.api.app import create_app
from ringfence.core.config import load_settings
from ringfence.identity.scim import ScimTokens
from ringfence.runtime import Runtime, initialise
from tests.services import postgres_database


@pytest.mark.parametrize(
    ("where", "params"),
    [
        ("query", {"startIndex": "99999999999999999999999"}),
        ("query", {"count": "99999999999999999999999", "startIndex": "18446744073709551616"}),
        ("body", {"startIndex": 10**30}),
    ],
)
def test_huge_start_index_is_a_400(
    client: TestClient, runtime: Runtime, where: str, params: dict[str, object]
) -> None:
    token = ScimTokens(runtime.store, runtime.clock).issue("okta").token.get_secret_value()
    headers = {"Authorization": f"Bearer {token}"}
    if where == "query":
        resp = client.get("/scim/v2/Users", params=params, headers=headers)
    else:
        body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], **params}
        resp = client.post("/scim/v2/Users/.search", json=body, headers=headers)
    assert resp.status_code == 400, resp.text
    assert resp.json()["scimType"] == "invalidValue"


def test_ordinary_paging_still_works(client: TestClient, runtime: Runtime) -> None:
    token = ScimTokens(runtime.store, runtime.clock).issue("okta").token.get_secret_value()
    headers = {"Authorization": f"Bearer {token}"}
    resp = client.get("/scim/v2/Users", params={"startIndex": "5", "count": "3"}, headers=headers)
    assert resp.status_code == 200 and resp.json()["startIndex"] == 5


@pytest.fixture
def pg_scim(runtime: Runtime, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """SCIM on PostgreSQL, which refuses NUL in text (SQLite stores it)."""
    with postgres_database() as url:
        settings = load_settings(data_dir=tmp_path / "pg", store_url=url)
        initialise(settings)
        rt = Runtime.open(settings, clock=runtime.clock)
        token = ScimTokens(rt.store, rt.clock).issue("okta").token.get_secret_value()
        try:
            with TestClient(create_app(rt), base_url="https://rf.example") as c:
                yield c, {"Authorization": f"Bearer {token}"}
        finally:
            rt.close()


@pytest.mark.postgres
def test_nul_characters_are_a_400_on_postgresql(
    pg_scim: tuple[TestClient, dict[str, str]],
) -> None:
    client, headers = pg_scim
    user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a\x00b"}
    for resp in (
        client.get("/scim/v2/Users/%00", headers=headers),
        client.post("/scim/v2/Users", json=user, headers=headers),
    ):
        assert resp.status_code == 400, resp.text
        assert resp.json()["scimType"] == "invalidValue"
