"""Session 14: every literal route beside a ``/{ref}`` is a name that entity cannot take.

``core.reserved`` lists them per kind (vendors: ``/vendor-risk/{vendor}`` beside
``/vendor-risk/reminders``, ``/document-uploads/...``). This walks the application's routes so
a new literal route next to a ``{param}`` fails here until it is reserved or explained.
"""

from __future__ import annotations

from collections import defaultdict

from fastapi.routing import iter_route_contexts

from ringfence.core.reserved import RESERVED
from tests.api.conftest import Api

# (collection, parameter) pairs whose literal siblings are not names of anything.
NOT_NAMES = {
    # SCIM resource types and server-assigned resource ids (RFC 7644), never names.
    ("/scim/v2", "{endpoint}"): "SCIM resource types",
    ("/scim/v2", "{rest}"): "SCIM catch-all",
    ("/scim/v2/{endpoint}", "{resource_id}"): "SCIM ids",
}
# Literal siblings no request for the entity can reach: their methods are disjoint from the
# methods of the /{ref} route itself, and no deeper route starts with the literal. (Review
# campaigns' 'remind' was one; since session 14 it is reserved like the vendors' literals.)
DISJOINT: dict[tuple[str, str], set[str]] = {}


def _siblings(api: Api) -> tuple[dict[tuple[str, str], set[str]], dict[str, set[str]]]:
    methods: dict[str, set[str]] = defaultdict(set)
    for ctx in iter_route_contexts(api.client.app.routes):  # type: ignore[attr-defined]
        if ctx.path_format:
            methods[ctx.path_format] |= set(ctx.methods or ())
    segments = [p.strip("/").split("/") for p in methods]
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for path in segments:
        for i, seg in enumerate(path):
            if not seg.startswith("{"):
                continue
            for other in segments:
                if len(other) > i and other[:i] == path[:i] and not other[i].startswith("{"):
                    out[("/" + "/".join(path[:i]), seg)].add(other[i])
    return out, methods


def test_every_literal_beside_a_ref_is_reserved_or_explained(api: Api) -> None:
    siblings, methods = _siblings(api)
    by_route = {tuple(e.route.rsplit("/", 1)): (kind, e.names) for kind, e in RESERVED.items()}
    unexplained = []
    for (collection, param), literals in sorted(siblings.items()):
        if (collection, param) in NOT_NAMES:
            continue
        if (collection, param) in by_route:
            kind, names = by_route[(collection, param)]
            assert literals == names, (kind, sorted(literals ^ names))
            continue
        if (collection, param) in DISJOINT and literals == DISJOINT[(collection, param)]:
            for literal in literals:
                own = methods[f"{collection}/{param}"]
                assert not methods[f"{collection}/{literal}"] & own, (collection, literal)
                deeper = [p for p in methods if p.startswith(f"{collection}/{literal}/")]
                assert not deeper, deeper
            continue
        unexplained.append((collection, param, sorted(literals)))
    assert not unexplained, f"reserve these in core.reserved: {unexplained}"
    # Every reserved list still matches a route (a removed route frees its names).
    assert set(by_route) <= set(siblings)
