"""Names an entity may not take because a REST route spells them next to its ``/{ref}``.

Routes address an entity by id or name in one path segment, and a few collections also have
literal sub-routes beside it: ``/api/v1/vendor-risk/reminders`` next to
``/api/v1/vendor-risk/{vendor}``. A vendor named ``reminders`` can then never be reached by
name there, and one named ``document-uploads`` turns ``POST …/document-uploads/documents``
(the raw upload for a vendor named ``documents``) into an upload for the wrong vendor. So each
such kind has a list of reserved names, refused when the entity is created or renamed (REST,
``ringfence.yaml``, the CLI's ``apply``) and reported where one was stored before.

Whatever its kind, a name that is addressed in a path segment may not contain ``/`` (the
server decodes ``%2F`` before routing, so ``a/b`` is two segments: ``documents/abc`` would land
on ``…/documents/{id}``) nor be ``.`` or ``..`` (clients resolve dot segments, also encoded
as ``%2E``, before sending: ``/apps/..`` is ``/``). ``name_problem`` checks both for every
kind in ``ADDRESSED``; ``tests/api`` checks the reserved table against the application's
routes: a new literal route next to a ``{ref}`` must be listed here (or the test names it).
Names stored before these checks are reported, never refused on read or by an unrelated
change. Depends on nothing; never looks at the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


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
    # POST /identity/reviews/remind (the reminder run) sits beside /reviews/{ref}: a campaign
    # named 'remind' is reachable today only because no POST is on /reviews/{ref} itself; a
    # path that means two things by method is one route change from meaning the wrong one.
    "review campaign": ReservedNames(
        "review campaign", "/api/v1/identity/reviews/{ref}", frozenset({"remind"})
    ),
}

# Every kind a REST route (or the console) reaches by name or e-mail in one path segment,
# and the route that does: what may not contain '/' or be '.' / '..'.
ADDRESSED: dict[str, str] = {
    "vendor": "/api/v1/vendors/{ref}",
    "app": "/api/v1/apps/{ref}",
    "integration": "/api/v1/integrations/{ref}",
    "credential": "/api/v1/credentials/{ref}",
    "flow": "/api/v1/flows/{ref}",
    "person": "/api/v1/people/{ref}",
    "console user": "/api/v1/identity/users/{ref}",
    "review campaign": "/api/v1/identity/reviews/{ref}",
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


def unaddressable_name_problem(kind: str, name: str) -> str | None:
    """Why ``name`` could not be used in a URL path segment, or None."""
    route = ADDRESSED.get(kind, "its /{ref} route")
    if "/" in name:
        return (
            f"a {kind} name may not contain '/': the server decodes %2F before routing, so "
            f"a {kind} named {name!r} could not be reached by name at {route}"
        )
    if name in (".", ".."):
        return (
            f"a {kind} may not be named {name!r}: clients resolve dot segments before sending, "
            f"so it could not be reached by name at {route}"
        )
    return None


def name_problem(kind: str, name: str) -> str | None:
    """Why ``name`` may not be a ``kind``'s name: it cannot be put in a URL, or a literal
    route beside the kind's ``/{ref}`` has it. None when it may."""
    return reserved_name_problem(kind, name) or unaddressable_name_problem(kind, name)


# ringfence.yaml sections whose entries are named resources the API addresses by name.
ESTATE_SECTIONS: dict[str, str] = {
    "vendors": "vendor",
    "apps": "app",
    "integrations": "integration",
    "credentials": "credential",
    "flows": "flow",
}


def estate_name_problems(
    _session: object, changes: Sequence[Any]
) -> list[tuple[str, str, str, str]]:
    """A plan check (``inventory.sections.register_plan_check``): an entry the file *creates*
    may not take a name ``name_problem`` refuses — located at the entry's name. Entries
    stored before under such a name are left alone (reported by the API's lists), so an
    unrelated apply is not blocked."""
    problems: list[tuple[str, str, str, str]] = []
    for c in changes:
        kind = ESTATE_SECTIONS.get(c.section)
        if kind is not None and c.action == "create":
            problem = name_problem(kind, c.name)
            if problem is not None:
                problems.append((c.section, c.name, "name", problem))
    return problems
