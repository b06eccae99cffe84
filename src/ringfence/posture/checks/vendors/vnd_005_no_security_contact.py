"""RF-VND-005: Vendor without a security contact.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.checks.vendors._common import _vendors_in_use
from ringfence.posture.context import PostureContext


@check(
    id="RF-VND-005",
    title="Vendor without a security contact",
    area="vendors",
    severity=Severity.LOW,
    resource="vendor",
    requires=("vendors",),
    rationale="In an incident every hour spent finding the right person at the vendor counts.",
    remediation="Record the vendor's security contact (`ringfence vendors contact add`).",
)
def no_security_contact(ctx: PostureContext) -> Iterator[Failure]:
    for v, _apps in _vendors_in_use(ctx):
        if v.security_contacts == 0:
            yield fail("vendor", v.name, f"{v.name} has no security contact")
