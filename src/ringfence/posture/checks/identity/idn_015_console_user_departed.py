"""RF-IDN-015: Ringfence console account of a departed person.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.checks.identity._common import _console
from ringfence.posture.context import PostureContext


@check(
    id="RF-IDN-015",
    title="Ringfence console account of a departed person",
    area="identity",
    severity=Severity.HIGH,
    resource="console_user",
    requires=("console_users",),
    rationale="A leaver's console account keeps control-plane access after offboarding.",
    remediation="Disable the console account (SCIM deprovisioning should have done it).",
)
def console_user_departed(ctx: PostureContext) -> Iterator[Failure]:
    people = ctx.people_by_id
    for u in _console(ctx):
        person = people.get(u.person_id) if u.person_id else None
        if not u.disabled and person is not None and not person.active:
            yield fail(
                "console_user",
                u.username,
                f"console user {u.username} belongs to departed {person.email}",
            )
