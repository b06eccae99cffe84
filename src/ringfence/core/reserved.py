"""Names an entity may not take because a REST route spells them next to its ``/{ref}``.

Routes address an entity by id or name in one path segment, and a few collections also have
literal sub-routes beside it: ``/api/v1/vendor-risk/reminders`` next to
``/api/v1/vendor-risk/{vendor}``. A vendor named ``reminders`` can then never be reached by
name there, and one named ``document-uploads`` turns ``POST …/document-uploads/documents``
(the raw upload for a vendor named ``documents``) into an upload for the wrong vendor. So each
such kind has a list of reserved names, refused when the entity is created or renamed (REST,
``ringfence.yaml``, the CLI's ``apply``) and reported where one was stored before.

A name that *starts* with a reserved segment and a ``/`` is reserved too: the router decodes
``%2F``, so ``documents/abc`` would land on ``…/documents/{id}``. ``tests/api`` checks this
table against the application's routes: a new literal route next to a ``{ref}`` must be listed
here (or the test names it). Depends on nothing; never looks at the store.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReservedNames:
    kind: str  # the entity, as messages name it
    route: str  # the route that addresses it by name
    names: frozenset[str]  # literal path segments beside the route's parameter


RESERVED: dict[str, ReservedNames] = {
    "vendor": ReservedNames(
        "vendor",
        "/api/v1/vendor-risk/{vendor}",
        frozenset(
            {"assessments", "document-uploads", "documents", "questions", "reminders", "renewals"}
        ),
    ),
}


def reserved_name_problem(kind: str, name: str) -> str | None:
    """Why ``name`` may not be a ``kind``'s name, or None. Lists the reserved names."""
    entry = RESERVED.get(kind)
    if entry is None or name.split("/", 1)[0] not in entry.names:
        return None
    prefix = entry.route.rsplit("/", 1)[0]
    return (
        f"{name!r} is reserved: {prefix}/{name.split('/', 1)[0]} is a route of its own, so a "
        f"{kind} of that name could not be reached by name at {entry.route}; reserved "
        f"{kind} names: {', '.join(sorted(entry.names))} (also followed by '/')"
    )
