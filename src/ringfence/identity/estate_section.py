"""Identity's hook into ``ringfence apply``: a person the file deactivates is deprovisioned.

Setting ``people[].active: false`` in ringfence.yaml must reach the same doors as a SCIM or API
deactivation: a finding per owned integration, personal tokens revoked and (per the
``quarantine_on_deprovision`` setting) the integrations quarantined — in the apply's own
transaction, so a failure leaves nothing half-done.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from ringfence.identity import lifecycle
from ringfence.identity.settings import IdentitySettings
from ringfence.inventory.sections import ApplyContext, register_after_apply


def _deprovision_leavers(session: Session, ctx: ApplyContext) -> None:
    lifecycle.reconcile(
        session,
        actor=ctx.actor,
        clock=ctx.clock,
        quarantine=IdentitySettings().quarantine_on_deprovision,
    )


register_after_apply("identity.deprovision", _deprovision_leavers)
