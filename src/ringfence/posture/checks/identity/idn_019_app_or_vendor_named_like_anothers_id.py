"""RF-IDN-019: Vendor or app named like another's id.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-IDN-019",
    title="Vendor or app named like another's id",
    area="identity",
    severity=Severity.MEDIUM,
    resource="app",
    rationale="Lookups take 'id or name', id first: a vendor or app whose name is another "
    "vendor's or app's id makes every command, API call and estate reference that names it "
    "act on the other one (an ownership change, a deletion, a clearance). Ids are generated, "
    "so such a name is rarely an accident. ringfence.yaml and the REST API refuse new ones; "
    "this finds those stored before.",
    remediation="Rename the vendor or app; review what was changed through that name "
    "(`ringfence audit log`).",
)
def app_or_vendor_named_like_anothers_id(ctx: PostureContext) -> Iterator[Failure]:
    apps = {a.id: a.name for a in ctx.apps}
    vendors = ctx.vendor_names_by_id
    for kind, names_by_id in (("vendor", vendors), ("app", apps)):
        for own_id, name in sorted(names_by_id.items(), key=lambda kv: kv[1]):
            other = names_by_id.get(name)
            if other is None or name == own_id:
                continue
            yield fail(
                kind,
                name,
                f"{kind} {name!r} is named like the id of {kind} {other!r} — lookups by id "
                "or name would take it for the other",
                **{f"{kind}_id": own_id, f"other_{kind}": other, f"other_{kind}_id": name},
            )
