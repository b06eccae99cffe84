"""RF-MON-001: Audit source silent for 24 hours.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.checks.readiness._common import _mon
from ringfence.posture.context import PostureContext


@check(
    id="RF-MON-001",
    title="Audit source silent for 24 hours",
    area="monitoring",
    severity=Severity.HIGH,
    resource="audit_source",
    requires=("monitoring",),
    rationale="A silent audit source usually means a broken collector (or a disabled log), "
    "and detections are blind meanwhile.",
    remediation="Check the collector's credentials and the vendor's audit-log settings.",
)
def silent_source(ctx: PostureContext) -> Iterator[Failure]:
    limit = ctx.policy.audit_source_silence_hours
    for name, last in sorted(_mon(ctx).sources.items()):
        hours = None if last is None else (ctx.now - last).total_seconds() / 3600
        if hours is None or hours > limit:
            when = "never" if hours is None else f"{int(hours)} hours ago"
            yield fail("audit_source", name, f"audit source {name}: last event {when}")
