"""RF-API-006: Integration not routed through the gateway.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-API-006",
    title="Integration not routed through the gateway",
    area="api",
    severity=Severity.LOW,
    resource="integration",
    requires=("routes",),
    rationale="Only routed integrations get least-privilege scopes, DLP and audit.",
    remediation="Add a gateway route for the integration's destination API.",
)
def not_routed(ctx: PostureContext) -> Iterator[Failure]:
    routed = ctx.routed_integrations
    for i in ctx.integrations:
        if i.status == "active" and i.name not in routed:
            yield fail("integration", i.name, f"{i.name} is not routed through the gateway")
