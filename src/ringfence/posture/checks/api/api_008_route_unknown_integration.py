"""RF-API-008: Route names an unknown integration.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-API-008",
    title="Route names an unknown integration",
    area="api",
    severity=Severity.MEDIUM,
    resource="route",
    requires=("routes",),
    rationale="A route for an integration missing from the inventory is an undeclared door.",
    remediation="Declare the integration or remove it from the route.",
)
def route_unknown_integration(ctx: PostureContext) -> Iterator[Failure]:
    known = ctx.integration_names
    for r in ctx.routes or ():
        unknown = [n for n in r.integrations if n not in known]
        if unknown:
            yield fail(
                "route",
                r.name,
                f"route {r.name} admits unknown integration(s) {', '.join(unknown)}",
            )
