"""RF-LPV-010: Integration with undeclared scopes.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-LPV-010",
    title="Integration with undeclared scopes",
    area="least_privilege",
    severity=Severity.LOW,
    resource="integration",
    rationale="Without a declared scope list, least privilege cannot be reviewed or "
    "enforced at the gateway.",
    remediation="Declare the integration's scopes in ringfence.yaml.",
)
def no_scopes(ctx: PostureContext) -> Iterator[Failure]:
    for i in ctx.integrations:
        if not i.scopes and i.status == "active":
            yield fail("integration", i.name, f"{i.name} declares no scopes")
