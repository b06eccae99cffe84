"""RF-IDN-018: Integration named like another integration's id or client id.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-IDN-018",
    title="Integration named like another integration's id or client id",
    area="identity",
    severity=Severity.HIGH,
    resource="integration",
    rationale="Lookups take 'id or name', and the responder maps an alert's entity to an "
    "integration by name or OAuth client id: an integration called like another's id or "
    "client id makes an incident quarantine or revoke whichever the database returns first, "
    "and leave the other one open. ringfence.yaml, the REST API and SCIM refuse new ones; "
    "this finds those stored before (or written to the database directly).",
    remediation="Rename the integration (or change the client_id) so that no integration's "
    "name is another's id or client_id; check which one recent incidents acted on "
    "(`ringfence audit log`).",
)
def integration_named_like_another(ctx: PostureContext) -> Iterator[Failure]:
    """One failure per integration, listing each clash (a name can be one integration's id
    and another's client id at once)."""
    ids = {i.id: i for i in ctx.integrations}
    by_client_id = {i.client_id: i for i in ctx.integrations if i.client_id}
    for i in ctx.integrations:
        # An integration's own client_id as its name is allowed (one entity either way).
        candidates = [
            ("name", i.name, "id", ids.get(i.name)),
            ("name", i.name, "client_id", by_client_id.get(i.name)),
        ]
        if i.client_id:
            candidates.append(("client_id", i.client_id, "id", ids.get(i.client_id)))
        clashes = [
            (field, value, label, other)
            for field, value, label, other in candidates
            if other is not None and other.id != i.id
        ]
        if not clashes:
            continue
        what = "; ".join(
            f"its {field} {value!r} is the {label} of integration {other.name!r}"
            for field, value, label, other in clashes
        )
        yield fail(
            "integration",
            i.name,
            f"integration {i.name!r}: {what} — lookups and the responder would take one for "
            "the other",
            integration_id=i.id,
            clashes=[
                {"field": field, "other_integration": other.name, "other_field": label}
                for field, _, label, other in clashes
            ],
        )
