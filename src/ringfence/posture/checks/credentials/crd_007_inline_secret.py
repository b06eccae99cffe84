"""RF-CRD-007: Secret inline instead of a reference.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.checks.credentials._common import _REFERENCE_SCHEMES
from ringfence.posture.context import PostureContext


@check(
    id="RF-CRD-007",
    title="Secret inline instead of a reference",
    area="credentials",
    severity=Severity.CRITICAL,
    resource="credential",
    rationale="A secret written into configuration is copied into repos, backups and logs.",
    remediation="Store the secret in the vault and reference it as vault:NAME.",
)
def inline_secret(ctx: PostureContext) -> Iterator[Failure]:
    for c in ctx.credentials:
        if not c.ref.startswith(_REFERENCE_SCHEMES):
            yield fail("credential", c.name, f"credential {c.name} is not a vault:/env: reference")
