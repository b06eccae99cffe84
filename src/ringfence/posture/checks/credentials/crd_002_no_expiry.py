"""RF-CRD-002: Credential without expiry.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.checks.credentials._common import _EXPIRING_KINDS
from ringfence.posture.context import PostureContext


@check(
    id="RF-CRD-002",
    title="Credential without expiry",
    area="credentials",
    severity=Severity.MEDIUM,
    resource="credential",
    rationale="A secret that never expires stays valid after it leaks.",
    remediation="Issue credentials with an expiry (expires_at) where the SaaS supports it.",
)
def no_expiry(ctx: PostureContext) -> Iterator[Failure]:
    for c in ctx.credentials:
        if c.expires_at is None and c.kind in _EXPIRING_KINDS:
            yield fail("credential", c.name, f"{c.kind} {c.name} never expires")
