"""RF-IDN-005: Integration owned by a departed person.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-IDN-005",
    title="Integration owned by a departed person",
    area="identity",
    severity=Severity.HIGH,
    resource="integration",
    rationale="Nobody answers for an integration whose owner has left: its credentials are "
    "not rotated and its incidents are not handled.",
    remediation="Reassign the integration to an active owner in ringfence.yaml.",
)
def integration_owner_departed(ctx: PostureContext) -> Iterator[Failure]:
    people = ctx.people_by_id
    for i in ctx.integrations:
        owner = people.get(i.owner_id) if i.owner_id else None
        if owner is not None and not owner.active:
            yield fail(
                "integration",
                i.name,
                f"integration {i.name} is owned by departed {owner.email}",
                owner=owner.email,
            )
