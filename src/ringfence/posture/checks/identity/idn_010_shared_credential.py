"""RF-IDN-010: Credential shared across integrations (or with Ringfence's own SSO or sinks).

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


def _vault_name(ref: str) -> str | None:
    if ref.startswith("vault:"):
        return ref[len("vault:") :] or None
    if ref.startswith("${vault:") and ref.endswith("}"):
        return ref[len("${vault:") : -1] or None
    return None


@check(
    id="RF-IDN-010",
    title="Credential shared across integrations",
    area="identity",
    severity=Severity.HIGH,
    resource="credential",
    rationale="A credential used by several integrations cannot be rotated or revoked for "
    "one without breaking the others, and its use cannot be attributed. The same holds for "
    "a vault entry an integration shares with Ringfence's own SSO client secret or a "
    "monitor sink's token — and that integration then holds Ringfence's credential.",
    remediation="Issue one credential per integration, and give the SSO client and each "
    "SIEM sink vault entries of their own.",
)
def shared_credential(ctx: PostureContext) -> Iterator[Failure]:
    users: dict[str, set[str]] = defaultdict(set)
    for c in ctx.credentials:
        if c.integration_id:
            users[c.ref].add(c.integration_id)
    platform: dict[str, list[str]] = defaultdict(list)  # vault name -> who in Ringfence
    for p in ctx.platform_secrets:
        if (name := _vault_name(p.ref)) is not None:
            platform[name].append(p.used_by)
    for ref, ids in users.items():
        vault_name = _vault_name(ref)
        ours = sorted(set(platform.get(vault_name, ()))) if vault_name else []
        if len(ids) + len(ours) <= 1:
            continue
        names = sorted(ctx.integrations_by_id[i].name for i in ids if i in ctx.integrations_by_id)
        if not ours:
            yield fail(
                "credential",
                ref,
                f"credential {ref} is used by {len(ids)} integrations: " + ", ".join(names),
                integrations=names,
            )
            continue
        yield fail(
            "credential",
            ref,
            f"credential {ref} is used by {len(ids)} integration(s) ({', '.join(names)}) and "
            f"by Ringfence itself: {'; '.join(ours)}",
            integrations=names,
            used_by=ours,
        )
