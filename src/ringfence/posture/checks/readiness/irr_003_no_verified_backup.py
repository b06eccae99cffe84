"""RF-IRR-003: No verified backup in 24 hours.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-IRR-003",
    title="No verified backup in 24 hours",
    area="readiness",
    severity=Severity.HIGH,
    resource="organisation",
    requires=("backups",),
    rationale="An unverified backup is a hope, not a recovery plan.",
    remediation="Back up and verify it: `ringfence backup create` then `ringfence backup "
    "verify FILE` (or restore it into a scratch store with `backup restore --store-url`).",
)
def no_verified_backup(ctx: PostureContext) -> Iterator[Failure]:
    if ctx.backups is None:
        raise LookupError("no backup facts")
    at = ctx.backups.last_verified_backup_at
    hours = None if at is None else (ctx.now - at).total_seconds() / 3600
    if hours is None or hours > ctx.policy.backup_max_age_hours:
        when = "never" if hours is None else f"{int(hours)} hours ago"
        yield fail("organisation", "backups", f"last verified backup: {when}")
