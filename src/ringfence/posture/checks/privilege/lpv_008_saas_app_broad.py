"""RF-LPV-008: Installed app with write or admin permissions.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext, saas_of


@check(
    id="RF-LPV-008",
    title="Installed app with write or admin permissions",
    area="least_privilege",
    severity=Severity.MEDIUM,
    resource="saas_app",
    requires=("saas",),
    rationale="An installed app's permissions apply to every repository/workspace it is "
    "installed on.",
    remediation="Restrict the installation to the repositories/channels it needs and drop "
    "write/admin permissions.",
)
def saas_app_broad(ctx: PostureContext) -> Iterator[Failure]:
    for a in saas_of(ctx).apps:
        bad = [
            s
            for s in a.scopes
            if s.endswith(":write")
            and s.split(":")[0]
            in {
                "administration",
                "contents",
                "members",
                "secrets",
                "organization_administration",
                "workflows",
            }
        ]
        if a.enabled and bad:
            yield fail(
                "saas_app",
                f"{a.vendor}:{a.name}",
                f"{a.vendor} app {a.name} can {', '.join(bad)}",
                permissions=bad,
            )
