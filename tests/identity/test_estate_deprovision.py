"""`ringfence apply` with `people[].active: false` deprovisions like SCIM does."""

from __future__ import annotations

from sqlalchemy import select

from ringfence.inventory import apply_estate, parse_estate, plan_estate
from ringfence.runtime import Runtime
from ringfence.store.models import Integration, IntegrationStatus

ESTATE = """
apiVersion: ringfence/v1
people:
  - {{email: ada@corp.example, name: Ada, active: {active}}}
vendors:
  - {{name: Acme}}
apps:
  - {{name: CRM, vendor: Acme, clearance: confidential}}
  - {{name: Warehouse, vendor: Acme, clearance: restricted}}
integrations:
  - name: crm-sync
    source: CRM
    destination: Warehouse
    owner: ada@corp.example
    scopes: [read]
"""


def test_apply_deactivating_an_owner_quarantines_their_integration(runtime: Runtime) -> None:
    apply_estate(runtime.store, parse_estate(ESTATE.format(active="true")), actor="t")
    leaver = parse_estate(ESTATE.format(active="false"))
    apply_estate(runtime.store, leaver, actor="t")
    with runtime.store.session() as s:
        integ = s.scalar(select(Integration).where(Integration.name == "crm-sync"))
        assert integ is not None and integ.status is IntegrationStatus.QUARANTINED
        # The file leaves status unset, so the quarantine is not undone by the next plan.
        assert plan_estate(s, leaver).is_empty
    # Applying again changes nothing and keeps the quarantine.
    assert apply_estate(runtime.store, leaver, actor="t").is_empty
