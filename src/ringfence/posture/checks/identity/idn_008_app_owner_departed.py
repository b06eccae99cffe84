"""RF-IDN-008: App owned by a departed person.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-IDN-008",
    title="App owned by a departed person",
    area="identity",
    severity=Severity.MEDIUM,
    resource="app",
    rationale="The owner approves access and answers vendor incidents; a leaver cannot.",
    remediation="Reassign the app to an active owner.",
)
def app_owner_departed(ctx: PostureContext) -> Iterator[Failure]:
    people = ctx.people_by_id
    for a in ctx.apps:
        owner = people.get(a.owner_id) if a.owner_id else None
        if owner is not None and not owner.active:
            yield fail("app", a.name, f"app {a.name} is owned by departed {owner.email}")
