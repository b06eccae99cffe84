"""Session 13 review (low): which integration an incident targets."""

from __future__ import annotations

from sqlalchemy import select

from ringfence.core.clock import FixedClock
from ringfence.inventory.estate import apply_estate, parse_estate
from ringfence.respond import Responder
from ringfence.runtime import Runtime
from tests.respond.test_respond import ESTATE


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
    decoy = ESTATE.replace(
        "playbooks:\n",
        "  - {name: '"
        + target_id
        + "', source: chat, destination: crm, owner: ann@example.com, scopes: [read]}\n"
        "playbooks:\n",
    )
    apply_estate(runtime.store, parse_estate(decoy), actor="t", clock=clock)
    r = Responder(runtime.store, runtime.vault, clock)
    incident = r.start("contain-integration", target_id, actor="alice")
    assert r.show(incident)["integration"] == "crm-sync"
    with runtime.store.session() as s:
        rows = {i.name: i.status for i in s.scalars(select(Integration))}
    assert rows["crm-sync"] is IntegrationStatus.QUARANTINED
    assert rows[target_id] is IntegrationStatus.ACTIVE
