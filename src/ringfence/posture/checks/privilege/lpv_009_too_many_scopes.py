"""RF-LPV-009: Integration with too many scopes.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-LPV-009",
    title="Integration with too many scopes",
    area="least_privilege",
    severity=Severity.LOW,
    resource="integration",
    rationale="Long scope lists are rarely all needed and hard to review.",
    remediation="Review the scope list against observed traffic and trim it.",
)
def too_many_scopes(ctx: PostureContext) -> Iterator[Failure]:
    limit = ctx.policy.max_scopes_per_integration
    for i in ctx.integrations:
        if len(i.scopes) > limit:
            yield fail(
                "integration", i.name, f"{i.name} holds {len(i.scopes)} scopes (policy max {limit})"
            )
