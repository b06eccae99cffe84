"""RF-IDN-007: App without an owner.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-IDN-007",
    title="App without an owner",
    area="identity",
    severity=Severity.MEDIUM,
    resource="app",
    rationale="An app nobody owns is not reviewed, not offboarded and not monitored.",
    remediation="Set `owner:` on the app in ringfence.yaml.",
)
def app_without_owner(ctx: PostureContext) -> Iterator[Failure]:
    for a in ctx.apps:
        if a.owner_id is None:
            yield fail("app", a.name, f"app {a.name} has no owner")
