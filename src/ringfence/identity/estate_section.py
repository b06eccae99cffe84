"""Identity's hook into ``ringfence apply``: a person the file deactivates is deprovisioned.

Setting ``people[].active: false`` in ringfence.yaml must reach the same doors as a SCIM or API
deactivation: a finding per owned integration, personal tokens revoked and (per the
``quarantine_on_deprovision`` setting) the integrations quarantined — in the apply's own
transaction, so a failure leaves nothing half-done.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ringfence.identity import lifecycle
from ringfence.identity.models import PersonHold
from ringfence.identity.settings import IdentitySettings
from ringfence.inventory.sections import ApplyContext, register_after_apply, register_plan_check
from ringfence.store.models import Person


def _deprovision_leavers(session: Session, ctx: ApplyContext) -> None:
    lifecycle.reconcile(
        session,
        actor=ctx.actor,
        clock=ctx.clock,
        quarantine=IdentitySettings().quarantine_on_deprovision,
    )


register_after_apply("identity.deprovision", _deprovision_leavers)


def _holds_stand(session: Session, changes: Sequence[Any]) -> list[tuple[str, str, str, str]]:
    """A person held inactive by an emergency deactivation (``lifecycle.place_hold``) is not
    reactivated by the file: lifting the hold takes a person with ``identity:lifecycle`` and a
    reason (``ringfence users reactivate-person -m``, or the API's reactivate). Before, a file
    saying ``active: true`` set the person active again with the hold still in place."""
    wanted = [
        c.name
        for c in changes
        if c.section == "people"
        and c.action == "update"
        and any(f.field == "active" and f.after is True for f in c.fields)
    ]
    if not wanted:
        return []
    rows = session.execute(
        select(Person.email, PersonHold.held_by, PersonHold.held_at, PersonHold.reason)
        .join(PersonHold, PersonHold.person_id == Person.id)
        .where(func.lower(Person.email).in_([w.lower() for w in wanted]))
    ).all()
    held = {email.lower(): (by, at, why) for email, by, at, why in rows}
    problems = []
    for name in wanted:
        hold = held.get(name.lower())
        if hold is not None:
            by, at, why = hold
            problems.append(
                (
                    "people",
                    name,
                    "active",
                    f"{name} is held inactive by {by} since {at.isoformat()} ({why}); lift the "
                    "hold with a reason (ringfence users reactivate-person -m ...) or leave "
                    "active unset",
                )
            )
    return problems


register_plan_check("identity.holds", _holds_stand)
