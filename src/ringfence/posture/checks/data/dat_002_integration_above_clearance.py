"""RF-DAT-002: Integration carries data above the destination's clearance.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.checks.data._common import _level
from ringfence.posture.context import PostureContext


@check(
    id="RF-DAT-002",
    title="Integration carries data above the destination's clearance",
    area="data",
    severity=Severity.HIGH,
    resource="integration",
    rationale="The integration's declared data classes exceed what its destination may hold.",
    remediation="Narrow the integration's data or raise the destination's clearance.",
)
def integration_above_clearance(ctx: PostureContext) -> Iterator[Failure]:
    apps = ctx.apps_by_id
    for i in ctx.integrations:
        dest = apps.get(i.destination_app_id)
        level = _level(i.data_classes)
        if dest is not None and level > dest.clearance:
            yield fail(
                "integration",
                i.name,
                f"{i.name} sends {level.label} data to {dest.name}"
                f" (cleared for {dest.clearance.label})",
            )
