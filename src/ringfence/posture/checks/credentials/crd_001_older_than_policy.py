"""RF-CRD-001: Credential older than policy.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.checks.credentials._common import (
    declared_evidence,
    declared_note,
    rotation_subjects,
    used_by_note,
    value_since,
)
from ringfence.posture.context import PostureContext


@check(
    id="RF-CRD-001",
    title="Credential older than policy",
    area="credentials",
    severity=Severity.MEDIUM,
    resource="credential",
    rationale="The longer a secret lives, the likelier it has leaked (logs, laptops, "
    "ex-employees) without anyone knowing.",
    remediation="Rotate the credential: store the new value with `ringfence vault put` (the "
    "new vault version is the evidence) and update the upstream. A rotated_at date alone is a "
    "claim, not evidence: credentials outside the vault cannot show a rotation.",
)
def older_than_policy(ctx: PostureContext) -> Iterator[Failure]:
    limit = ctx.policy.credential_max_age_days
    for c, extra in rotation_subjects(ctx):
        since, _ = value_since(c)
        age = ctx.days_since(since)
        if age is not None and age > limit:
            yield fail(
                "credential",
                c.name,
                f"credential {c.name} is {int(age)} days old (policy {limit})"
                + declared_note(c, since)
                + used_by_note(extra),
                age_days=int(age),
                **declared_evidence(c, since),
                **extra,
            )
