"""RF-API-003: Route without request schema.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-API-003",
    title="Route without request schema",
    area="api",
    severity=Severity.MEDIUM,
    resource="route",
    requires=("routes",),
    rationale="Without a schema the gateway cannot reject mass-assignment and injection "
    "payloads (OWASP API3).",
    remediation="Add a JSON schema to each operation of the route.",
)
def route_without_schema(ctx: PostureContext) -> Iterator[Failure]:
    for r in ctx.routes or ():
        if r.operations_with_schema < r.operations:
            yield fail(
                "route",
                r.name,
                f"route {r.name}: {r.operations - r.operations_with_schema}"
                f" of {r.operations} operations have no schema",
            )
