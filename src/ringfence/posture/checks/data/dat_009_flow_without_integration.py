"""RF-DAT-009: Declared flow without an integration.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-DAT-009",
    title="Declared flow without an integration",
    area="data",
    severity=Severity.LOW,
    resource="data_flow",
    rationale="A flow no integration carries cannot be enforced or monitored at the gateway.",
    remediation="Attach the flow to the integration that carries it.",
)
def flow_without_integration(ctx: PostureContext) -> Iterator[Failure]:
    for f in ctx.flows:
        if f.origin == "declared" and f.integration_id is None:
            yield fail("data_flow", f.name, f"declared flow {f.name} names no integration")
