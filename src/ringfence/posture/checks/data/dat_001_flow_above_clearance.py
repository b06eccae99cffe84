"""RF-DAT-001: Data flow above the destination's clearance.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.checks.data._common import _level
from ringfence.posture.context import PostureContext


@check(
    id="RF-DAT-001",
    title="Data flow above the destination's clearance",
    area="data",
    severity=Severity.HIGH,
    resource="data_flow",
    rationale="Data more sensitive than the destination is cleared for leaves its control "
    "zone (contract, DPA, security level).",
    remediation="Stop the flow, redact at the gateway, or raise the destination's clearance "
    "after a vendor review.",
)
def flow_above_clearance(ctx: PostureContext) -> Iterator[Failure]:
    apps = ctx.apps_by_id
    for f in ctx.flows:
        dest = apps.get(f.destination_app_id)
        level = _level(f.data_classes)
        if dest is not None and level > dest.clearance:
            yield fail(
                "data_flow",
                f.name,
                f"flow {f.name} carries {level.label} data to "
                f"{dest.name} (cleared for {dest.clearance.label})",
                level=level.label,
                clearance=dest.clearance.label,
                origin=f.origin,
            )
