"""RF-DAT-005: Data class stored without a retention rule.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-DAT-005",
    title="Data class stored without a retention rule",
    area="data",
    severity=Severity.LOW,
    resource="app",
    rationale="Every stored data class needs a retention period.",
    remediation="Add retention_days for each data class the app holds.",
)
def class_without_retention(ctx: PostureContext) -> Iterator[Failure]:
    for a in ctx.apps:
        missing = [c for c in a.data_classes if c != "restricted" and c not in a.retention]
        if missing:
            yield fail("app", a.name, f"{a.name} has no retention rule for {', '.join(missing)}")
