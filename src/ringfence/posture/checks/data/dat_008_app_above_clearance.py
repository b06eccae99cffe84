"""RF-DAT-008: App holds data above its clearance.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.checks.data._common import _level
from ringfence.posture.context import PostureContext


@check(
    id="RF-DAT-008",
    title="App holds data above its clearance",
    area="data",
    severity=Severity.HIGH,
    resource="app",
    rationale="The app's declared contents contradict its clearance.",
    remediation="Raise the clearance after review or remove the data class.",
)
def app_above_clearance(ctx: PostureContext) -> Iterator[Failure]:
    for a in ctx.apps:
        level = _level(a.data_classes)
        if level > a.clearance:
            yield fail(
                "app",
                a.name,
                f"{a.name} holds {level.label} data but is cleared for {a.clearance.label}",
            )
