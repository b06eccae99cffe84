"""RF-CRD-008: Credential read from the environment.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-CRD-008",
    title="Credential read from the environment",
    area="credentials",
    severity=Severity.LOW,
    resource="credential",
    rationale="Environment variables leak into crash dumps, child processes and CI logs; "
    "the vault encrypts at rest and audits access.",
    remediation="Move the secret into the vault (vault:NAME).",
)
def env_reference(ctx: PostureContext) -> Iterator[Failure]:
    for c in ctx.credentials:
        if c.ref.startswith(("env:", "${env:")):
            yield fail("credential", c.name, f"credential {c.name} comes from the environment")
