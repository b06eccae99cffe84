"""RF-LPV-003: Wildcard scope.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext
from ringfence.posture.scopes import is_wildcard_scope


@check(
    id="RF-LPV-003",
    title="Wildcard scope",
    area="least_privilege",
    severity=Severity.HIGH,
    resource="integration",
    rationale="Wildcard scopes grant everything the API offers, today and tomorrow.",
    remediation="Replace the wildcard with the explicit scopes the integration needs.",
)
def wildcard_scope(ctx: PostureContext) -> Iterator[Failure]:
    for i in ctx.integrations:
        bad = [s for s in i.scopes if is_wildcard_scope(s)]
        if bad:
            yield fail(
                "integration",
                i.name,
                f"{i.name} holds wildcard scope(s) {', '.join(bad)}",
                scopes=bad,
            )
