"""Object-level access for ``integration-owner``: only the integrations they own, only some verbs.

The API's ``authorize`` asks :func:`owner_may` when a caller lacks the method's scope but holds
``integrations:own``. Allowed: reading one owned integration and quarantining it (an owner may
always stop their own door). Listing all integrations, or anything else, stays forbidden.
"""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import or_, select

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
        owner = s.scalar(
            select(Integration.owner_id).where(or_(Integration.id == ref, Integration.name == ref))
        )
    return owner is not None and owner == person_id
