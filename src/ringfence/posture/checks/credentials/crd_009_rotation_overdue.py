"""RF-CRD-009: Rotation overdue.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-CRD-009",
    title="Rotation overdue",
    area="credentials",
    severity=Severity.MEDIUM,
    resource="credential",
    rationale="The credential's own rotation schedule has lapsed.",
    remediation="Rotate it and record rotated_at.",
)
def rotation_overdue(ctx: PostureContext) -> Iterator[Failure]:
    for c in ctx.credentials:
        if c.rotation_days:
            age = ctx.days_since(c.rotated_at or c.created_at)
            if age is not None and age > c.rotation_days:
                yield fail(
                    "credential",
                    c.name,
                    f"credential {c.name} is {int(age)} days since "
                    f"rotation (schedule {c.rotation_days})",
                )
