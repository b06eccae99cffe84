"""RF-IDN-006: Integration without an owner.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-IDN-006",
    title="Integration without an owner",
    area="identity",
    severity=Severity.MEDIUM,
    resource="integration",
    rationale="Every door needs a named owner accountable for its access and its incidents.",
    remediation="Set `owner:` on the integration in ringfence.yaml.",
)
def integration_without_owner(ctx: PostureContext) -> Iterator[Failure]:
    for i in ctx.integrations:
        if i.owner_id is None and i.status == "active":
            yield fail("integration", i.name, f"integration {i.name} has no owner")
