"""RF-IDN-009: Dormant integration owner.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext, saas_of


@check(
    id="RF-IDN-009",
    title="Dormant integration owner",
    area="identity",
    severity=Severity.LOW,
    resource="integration",
    requires=("saas",),
    rationale="An owner who has not signed in for months is unlikely to notice misuse.",
    remediation="Confirm the owner still holds the role, or reassign the integration.",
)
def dormant_owner(ctx: PostureContext) -> Iterator[Failure]:
    last: dict[str, float] = {}
    for p in saas_of(ctx).people:
        if p.email and p.last_login is not None:
            age = ctx.days_since(p.last_login) or 0.0
            key = p.email.lower()
            last[key] = min(age, last.get(key, age))
    for i in ctx.integrations:
        email = ctx.owner_email(i.owner_id)
        idle = last.get(email.lower()) if email else None
        if idle is not None and idle > ctx.policy.dormant_days:
            yield fail(
                "integration",
                i.name,
                f"owner {email} of {i.name} has not signed in for {int(idle)} days",
                owner=email,
                days=int(idle),
            )
