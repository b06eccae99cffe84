"""RF-VND-003: No DPA with a vendor receiving confidential data.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.core.levels import DataClass
from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.checks.vendors._common import _exposure, _vendors_in_use
from ringfence.posture.context import PostureContext


@check(
    id="RF-VND-003",
    title="No DPA with a vendor receiving confidential data",
    area="vendors",
    severity=Severity.HIGH,
    resource="vendor",
    requires=("vendors",),
    rationale="Processing personal or confidential data without a DPA breaches GDPR Art. 28 "
    "and leaves breach notification undefined.",
    remediation="Sign a DPA (record it as a contract clause `dpa: true`).",
)
def no_dpa(ctx: PostureContext) -> Iterator[Failure]:
    exposure = _exposure(ctx)
    for v, _apps in _vendors_in_use(ctx):
        level = exposure.get(v.name, DataClass.PUBLIC)
        if level >= DataClass.CONFIDENTIAL and not v.has_dpa:
            yield fail("vendor", v.name, f"{v.name} receives {level.label} data without a DPA")
