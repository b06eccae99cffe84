"""RF-CRD-009: Rotation overdue.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.checks.credentials._common import (
    declared_evidence,
    declared_note,
    value_since,
)
from ringfence.posture.context import PostureContext


@check(
    id="RF-CRD-009",
    title="Rotation overdue",
    area="credentials",
    severity=Severity.MEDIUM,
    resource="credential",
    rationale="The credential's own rotation schedule has lapsed.",
    remediation="Rotate it: store the new value with `ringfence vault put` (or a respond "
    "rotation); a rotated_at date alone is a claim, not evidence.",
)
def rotation_overdue(ctx: PostureContext) -> Iterator[Failure]:
    for c in ctx.credentials:
        if c.rotation_days:
            since, _ = value_since(c)
            age = ctx.days_since(since)
            if age is not None and age > c.rotation_days:
                yield fail(
                    "credential",
                    c.name,
                    f"credential {c.name} is {int(age)} days since its value was stored "
                    f"(schedule {c.rotation_days})" + declared_note(c, since),
                    age_days=int(age),
                    **declared_evidence(c, since),
                )
