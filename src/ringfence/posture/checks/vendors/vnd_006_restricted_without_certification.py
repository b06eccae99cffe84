"""RF-VND-006: Restricted data at a vendor without certification.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.core.levels import DataClass
from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.checks.vendors._common import _exposure, _vendors_in_use
from ringfence.posture.context import PostureContext


@check(
    id="RF-VND-006",
    title="Restricted data at a vendor without certification",
    area="vendors",
    severity=Severity.HIGH,
    resource="vendor",
    requires=("vendors",),
    rationale="Restricted data should only go to vendors with independently audited controls.",
    remediation="Obtain a SOC 2 Type II or ISO 27001 certificate, or move the data.",
)
def restricted_without_certification(ctx: PostureContext) -> Iterator[Failure]:
    exposure = _exposure(ctx)
    for v, _apps in _vendors_in_use(ctx):
        if exposure.get(v.name) == DataClass.RESTRICTED and not v.certifications:
            yield fail(
                "vendor", v.name, f"{v.name} holds restricted data and has no certification on file"
            )
