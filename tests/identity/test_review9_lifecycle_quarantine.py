"""Review 9: the lifecycle lifts only its own quarantines, never an analyst's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ringfence.identity import lifecycle
from ringfence.runtime import Runtime
from ringfence.store.apitokens import ApiTokens
from ringfence.store.models import Integration, IntegrationStatus

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def analyst(app: FastAPI, runtime: Runtime) -> Iterator[TestClient]:
    token = ApiTokens(runtime.store, runtime.clock).issue("analyst", ["read", "write"])
    bearer = {"Authorization": f"Bearer {token.token.get_secret_value()}"}
    with TestClient(app, base_url="https://rf.example", headers=bearer) as client:
        yield client


def _status(runtime: Runtime, integ_id: str) -> IntegrationStatus:
    with runtime.store.session() as s:
        integ = s.get(Integration, integ_id)
        assert integ is not None
        return integ.status


def _set_active(scim: TestClient, uid: str, value: bool) -> None:
    op = {"op": "replace", "path": "active", "value": value}
    resp = scim.patch(f"/scim/v2/Users/{uid}", json={"schemas": [PATCH], "Operations": [op]})
    assert resp.status_code == 200, resp.text


def test_reactivation_keeps_an_incident_quarantine_set_after_the_lifecycles(
    scim: TestClient, analyst: TestClient, runtime: Runtime, estate: dict[str, str]
) -> None:
    """Finding 8: the lift was decided from the finding's marker, so an analyst's quarantine
    for an incident (after activating the integration for a business need) was lifted when
    the owner came back."""
    doc = {"schemas": [USER], "userName": "alice@example.com", "active": True}
    uid = scim.post("/scim/v2/Users", json=doc).json()["id"]
    _set_active(scim, uid, False)
    assert _status(runtime, estate["sync"]) == IntegrationStatus.QUARANTINED
    url = f"/api/v1/integrations/{estate['sync']}"
    assert analyst.post(f"{url}/activate", json={"reason": "needed"}).status_code == 200
    assert analyst.post(f"{url}/quarantine", json={"reason": "IR-42"}).status_code == 200
    _set_active(scim, uid, True)
    assert _status(runtime, estate["sync"]) == IntegrationStatus.QUARANTINED  # the analyst's
    assert _status(runtime, estate["job"]) == IntegrationStatus.ACTIVE  # the lifecycle's


def test_reassignment_lifts_the_lifecycles_quarantine_only(
    scim: TestClient, analyst: TestClient, runtime: Runtime, estate: dict[str, str]
) -> None:
    doc = {"schemas": [USER], "userName": "alice@example.com", "active": True}
    uid = scim.post("/scim/v2/Users", json=doc).json()["id"]
    _set_active(scim, uid, False)
    url = f"/api/v1/integrations/{estate['job']}"
    assert analyst.post(f"{url}/activate", json={"reason": "x"}).status_code == 200
    assert analyst.post(f"{url}/quarantine", json={"reason": "IR-43"}).status_code == 200
    for integ in ("sync", "job"):
        with runtime.store.session() as s:
            lifecycle.reassign_owner(
                s, estate[integ], estate["bob"], actor="user:ana", clock=runtime.clock
            )
    assert _status(runtime, estate["sync"]) == IntegrationStatus.ACTIVE
    assert _status(runtime, estate["job"]) == IntegrationStatus.QUARANTINED
