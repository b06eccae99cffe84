"""RF-CRD-003: Credential never rotated.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.checks.credentials._common import (
    rotation_subjects,
    used_by_note,
    value_since,
)
from ringfence.posture.context import PostureContext


@check(
    id="RF-CRD-003",
    title="Credential never rotated",
    area="credentials",
    severity=Severity.LOW,
    resource="credential",
    rationale="A credential that has never been rotated shows rotation is not practised and "
    "may not work when it is needed in an incident.",
    remediation="Rotate it once now and schedule rotation (rotation_days).",
)
def never_rotated(ctx: PostureContext) -> Iterator[Failure]:
    grace = ctx.policy.never_rotated_grace_days
    for c, used_by in rotation_subjects(ctx):
        if c.evidence is not None and c.evidence.rotated:
            continue  # a new vault version replaced an earlier one, or a rotation run did
        since, source = value_since(c)
        age = ctx.days_since(since)
        if age is None or age <= grace:
            continue
        if c.rotated_at is None:
            message = f"credential {c.name} was never rotated in {int(age)} days"
        else:
            message = (
                f"credential {c.name}: rotated_at declares a rotation on "
                f"{c.rotated_at.date().isoformat()}, but it is declared, not evidenced — "
                f"{source} shows the value unchanged for {int(age)} days"
            )
        message += used_by_note(used_by)
        extra = {"evidenced_by": source, **used_by}
        if c.rotated_at is not None:
            extra |= {
                "declared_rotated_at": c.rotated_at.isoformat(),
                "rotation": "declared, not evidenced",
            }
        yield fail("credential", c.name, message, age_days=int(age), **extra)
