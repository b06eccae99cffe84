"""RF-CRD-003: Credential never rotated.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
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
    for c in ctx.credentials:
        age = ctx.days_since(c.created_at)
        if c.rotated_at is None and age is not None and age > grace:
            yield fail(
                "credential", c.name, f"credential {c.name} was never rotated in {int(age)} days"
            )
