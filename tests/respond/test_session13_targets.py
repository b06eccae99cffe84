"""Session 13 review: what an incident acts on is the integration, and the app, it was opened
and approved for."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ringfence.core.clock import FixedClock
from ringfence.inventory.estate import apply_estate, parse_estate
from ringfence.respond import Responder
from ringfence.runtime import Runtime
from tests.respond.test_respond import ESTATE, _grant_observations, _okta_grants_setup


def test_an_incident_opened_by_id_targets_that_integration_not_one_named_like_it(
    runtime: Runtime, clock: FixedClock
) -> None:
    """Session 13 review (low): ``start`` resolved its integration with one 'name = ref OR
    id = ref' query and took whichever row came first, so an integration *named* after
    another's id could be the one quarantined (or revoked) instead — and the compromised one
    not contained. Now an id first, then a name, as the inventory routes resolve it."""
    from ringfence.store.models import Integration, IntegrationStatus

    apply_estate(runtime.store, parse_estate(ESTATE), actor="t", clock=clock)
    with runtime.store.session() as s:
        target = s.scalars(select(Integration).where(Integration.name == "crm-sync")).one()
        target_id = target.id
        # the decoy is stored directly, as data from before bd02d0f (the estate file and the
        # API refuse a name that is another integration's id since then)
        s.add(
            Integration(
                name=target_id,
                source_app_id=target.source_app_id,
                destination_app_id=target.destination_app_id,
                scopes=["read"],
            )
        )
    r = Responder(runtime.store, runtime.vault, clock)
    incident = r.start("contain-integration", target_id, actor="alice")
    assert r.show(incident)["integration"] == "crm-sync"
    with runtime.store.session() as s:
        rows = {i.name: i.status for i in s.scalars(select(Integration))}
    assert rows["crm-sync"] is IntegrationStatus.QUARANTINED
    assert rows[target_id] is IntegrationStatus.ACTIVE


def test_grant_revocation_revokes_the_grants_of_the_app_approved(
    runtime: Runtime, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Session 13 review (medium): revoke_oauth_grants matched the observed grants by the
    integration's *current* client id. A writer who changed client_id between the approval
    request and the approval had the approved step revoke another app's grants at the vendor
    (here Workday's provisioning grants: irreversible, every user of it cut off). Now the client
    id pinned when the incident opened is used, the approval note names it, and an edit since
    makes the step refuse — as rotate_client_secret already did."""
    server, cfg, _theirs = _okta_grants_setup(runtime, clock, monkeypatch)
    try:
        r = Responder(runtime.store, runtime.vault, clock, connectors={"okta": cfg})
        incident = r.start("contain-integration", "crm-sync", actor="alice")
        step = next(st for st in r.show(incident)["steps"] if st["action"] == "revoke_oauth_grants")
        assert step["status"] == "awaiting_approval"
        notes = [t["message"] for t in r.show(incident)["timeline"]]
        assert any("OAuth grants of client id hr-insights-client" in n for n in notes), notes
        before = _grant_observations(runtime)
        retarget = ESTATE.replace("client_id: crm-sync-cid", "client_id: 0oa1nwworkdayprovisioning")
        retarget = retarget.replace(
            "      - {action: revoke_gateway_access}\n",
            "      - {action: revoke_oauth_grants, vendor: okta}\n",
        )
        apply_estate(runtime.store, parse_estate(retarget), actor="writer", clock=clock)
        r.approve(incident, step["position"], actor="bob")
        done = next(st for st in r.show(incident)["steps"] if st["action"] == "revoke_oauth_grants")
        assert done["status"] == "failed" and "changed since the incident opened" in done["error"]
        assert server.fake.actions == []
        assert _grant_observations(runtime) == before
    finally:
        server.stop()
