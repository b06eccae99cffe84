"""RF-DAT-003: Observed data flow not declared.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-DAT-003",
    title="Observed data flow not declared",
    area="data",
    severity=Severity.HIGH,
    resource="data_flow",
    rationale="Data moving along a path nobody declared is shadow IT by definition.",
    remediation="Adopt the flow into ringfence.yaml (`ringfence adopt flow NAME`) or block "
    "it at the gateway.",
)
def observed_flow_undeclared(ctx: PostureContext) -> Iterator[Failure]:
    declared = ctx.declared_flow_keys
    for f in ctx.flows:
        if f.origin == "observed" and (f.source_app_id, f.destination_app_id) not in declared:
            yield fail(
                "data_flow",
                f.name,
                f"observed flow {ctx.app_name(f.source_app_id)} → "
                f"{ctx.app_name(f.destination_app_id)} ({', '.join(f.data_classes)}) is "
                "not declared",
                data_classes=list(f.data_classes),
            )
