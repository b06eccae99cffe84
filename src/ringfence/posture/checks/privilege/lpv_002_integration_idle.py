"""RF-LPV-002: Integration without traffic for 90 days.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-LPV-002",
    title="Integration without traffic for 90 days",
    area="least_privilege",
    severity=Severity.LOW,
    resource="integration",
    requires=("usage",),
    rationale="An idle integration is a door nobody walks through but anybody could.",
    remediation="Quarantine it at the gateway, then revoke it if nobody objects.",
)
def integration_idle(ctx: PostureContext) -> Iterator[Failure]:
    usage = ctx.usage or {}
    limit = ctx.policy.integration_unused_days
    for i in ctx.integrations:
        if i.status != "active":
            continue
        u = usage.get(i.name)
        idle = ctx.days_since(u.last_seen if u else i.created_at)
        if idle is not None and idle > limit:
            yield fail(
                "integration", i.name, f"no gateway traffic from {i.name} for {int(idle)} days"
            )
