"""RF-SHD-004: App from an unverified publisher.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext, saas_of


@check(
    id="RF-SHD-004",
    title="App from an unverified publisher",
    area="shadow_it",
    severity=Severity.LOW,
    resource="saas_app",
    requires=("saas",),
    rationale="Unverified publishers are a common vehicle for consent phishing.",
    remediation="Block user consent to unverified apps; review this one.",
)
def unverified_publisher(ctx: PostureContext) -> Iterator[Failure]:
    for a in saas_of(ctx).apps:
        if a.enabled and a.verified is False:
            yield fail(
                "saas_app",
                f"{a.vendor}:{a.name}",
                f"{a.name} in {a.vendor} comes from an unverified publisher",
            )
