"""Object-level access for ``integration-owner``: only the integrations they own, only some verbs.

The API's ``authorize`` asks :func:`owner_may` when a caller lacks the method's scope but holds
``integrations:own``. Allowed: reading one owned integration and quarantining it (an owner may
always stop their own door). Listing all integrations, or anything else, stays forbidden.
"""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import select

from ringfence.identity.roles import OWN_INTEGRATIONS
from ringfence.runtime import Runtime
from ringfence.store.models import Integration

_PREFIX = "/api/v1/integrations/"


def owner_may(person_id: str | None, scopes: frozenset[str], request: Request) -> bool:
    if OWN_INTEGRATIONS not in scopes or person_id is None:
        return False
    path = request.url.path
    ref = request.path_params.get("ref")
    if not isinstance(ref, str) or not path.startswith(_PREFIX):
        return False
    rest = path[len(_PREFIX) :].split("/")
    readable = request.method in ("GET", "HEAD") and len(rest) == 1
    stoppable = request.method == "POST" and len(rest) == 2 and rest[1] == "quarantine"
    if not (readable or stoppable):
        return False
    runtime: Runtime = request.app.state.runtime
    with runtime.store.session() as s:
        # Resolve ``ref`` exactly as the route does (inventory ``_find``): id first, then a
        # unique name. An OR over both could pick a different row than the route serves.
        rows = s.execute(select(Integration.owner_id).where(Integration.id == ref)).all()
        if not rows:
            rows = s.execute(
                select(Integration.owner_id).where(Integration.name == ref).limit(2)
            ).all()
    return len(rows) == 1 and rows[0][0] is not None and rows[0][0] == person_id
