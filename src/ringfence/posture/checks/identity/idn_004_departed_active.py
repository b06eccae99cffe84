"""RF-IDN-004: Departed person still active in a SaaS tenant.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext, saas_of


@check(
    id="RF-IDN-004",
    title="Departed person still active in a SaaS tenant",
    area="identity",
    severity=Severity.HIGH,
    resource="saas_account",
    requires=("saas",),
    rationale="Accounts of leavers keep their data access and OAuth grants; deprovisioning "
    "that stops at the IdP leaves doors open.",
    remediation="Deactivate the account in the tenant (ringfence can do it through the "
    "connector) and fix SCIM deprovisioning for that app.",
)
def departed_active(ctx: PostureContext) -> Iterator[Failure]:
    for p in saas_of(ctx).people:
        person = ctx.people_by_email.get((p.email or p.login).lower())
        if person is not None and not person.active and p.active:
            yield fail(
                "saas_account",
                f"{p.vendor}:{p.login}",
                f"{person.email} has left but is still active in {p.vendor}",
                vendor=p.vendor,
                person=person.email,
            )
