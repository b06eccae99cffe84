"""RF-IDN-010: Credential shared across integrations.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-IDN-010",
    title="Credential shared across integrations",
    area="identity",
    severity=Severity.HIGH,
    resource="credential",
    rationale="A credential used by several integrations cannot be rotated or revoked for "
    "one without breaking the others, and its use cannot be attributed.",
    remediation="Issue one credential per integration.",
)
def shared_credential(ctx: PostureContext) -> Iterator[Failure]:
    users: dict[str, set[str]] = defaultdict(set)
    for c in ctx.credentials:
        if c.integration_id:
            users[c.ref].add(c.integration_id)
    for ref, ids in users.items():
        if len(ids) > 1:
            names = sorted(
                ctx.integrations_by_id[i].name for i in ids if i in ctx.integrations_by_id
            )
            yield fail(
                "credential",
                ref,
                f"credential {ref} is used by {len(ids)} integrations: " + ", ".join(names),
                integrations=names,
            )
