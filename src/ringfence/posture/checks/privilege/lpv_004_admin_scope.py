"""RF-LPV-004: Administrative scope on an integration.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext
from ringfence.posture.scopes import is_admin_scope


@check(
    id="RF-LPV-004",
    title="Administrative scope on an integration",
    area="least_privilege",
    severity=Severity.MEDIUM,
    resource="integration",
    rationale="Admin scopes let an integration change the tenant's security settings.",
    remediation="Use a narrower scope, or document why admin is needed and accept the risk.",
)
def admin_scope(ctx: PostureContext) -> Iterator[Failure]:
    for i in ctx.integrations:
        bad = [s for s in i.scopes if is_admin_scope(s)]
        if bad:
            yield fail(
                "integration", i.name, f"{i.name} holds admin scope(s) {', '.join(bad)}", scopes=bad
            )
