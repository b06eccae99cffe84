"""RF-DAT-004: Restricted data stored without a retention rule.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-DAT-004",
    title="Restricted data stored without a retention rule",
    area="data",
    severity=Severity.MEDIUM,
    resource="app",
    rationale="Restricted data kept forever multiplies breach impact and breaks "
    "storage-limitation duties (GDPR Art. 5(1)(e)).",
    remediation="Set retention_days.restricted on the app.",
)
def restricted_without_retention(ctx: PostureContext) -> Iterator[Failure]:
    for a in ctx.apps:
        if "restricted" in a.data_classes and "restricted" not in a.retention:
            yield fail("app", a.name, f"{a.name} holds restricted data with no retention rule")
