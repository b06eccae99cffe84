"""RF-VND-002: Vendor certification expired.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.checks.vendors._common import _vendors_in_use
from ringfence.posture.context import PostureContext


@check(
    id="RF-VND-002",
    title="Vendor certification expired",
    area="vendors",
    severity=Severity.MEDIUM,
    resource="vendor",
    requires=("vendors",),
    rationale="An expired SOC 2 / ISO 27001 report no longer evidences the vendor's controls.",
    remediation="Request the current report from the vendor.",
)
def certificate_expired(ctx: PostureContext) -> Iterator[Failure]:
    today = ctx.now.date()
    for v, _apps in _vendors_in_use(ctx):
        expired = [k for k, until in v.certifications if until is not None and until < today]
        if expired and not any(until is None or until >= today for _, until in v.certifications):
            yield fail(
                "vendor",
                v.name,
                f"{v.name}: all certifications expired ({', '.join(sorted(set(expired)))})",
            )
