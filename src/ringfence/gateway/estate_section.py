"""The ``routes:`` section of ``ringfence.yaml``, registered with the estate engine.

Items are ``RouteSpec``s; ``plan``/``apply``/``export`` treat them like every other section.
Reference checks make sure each route names a declared app, integrations and credential.
Routes hold credential references only, never a secret.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ringfence.gateway.models import GatewayRoute
from ringfence.gateway.routes import RouteSpec, stored_spec
from ringfence.inventory.sections import (
    ApplyContext,
    EstateSection,
    EstateView,
    SectionProblem,
    register_section,
)


def load_routes(session: Session) -> Mapping[str, Mapping[str, Any]]:
    return {r.name: dict(r.spec) for r in session.scalars(select(GatewayRoute))}


def apply_routes(
    session: Session,
    creates: Sequence[RouteSpec],
    updates: Sequence[RouteSpec],
    deletes: Sequence[str],
    ctx: ApplyContext,
) -> None:
    now = ctx.clock.now()
    existing = {r.name: r for r in session.scalars(select(GatewayRoute))}
    for spec in [*creates, *updates]:
        data = stored_spec(spec)
        row = existing.get(spec.name)
        if row is None:
            session.add(GatewayRoute(name=spec.name, spec=data, created_at=now, updated_at=now))
        else:
            row.spec = data
            row.updated_at = now
    for name in deletes:
        row = existing.get(name)
        if row is not None:
            session.delete(row)


def check_routes(items: Sequence[RouteSpec], estate: EstateView) -> list[SectionProblem]:
    problems: list[SectionProblem] = []
    prefixes: dict[str, str] = {}
    for i, r in enumerate(items):
        if not estate.has("apps", r.app):
            problems.append(SectionProblem(i, "app", f"unknown app {r.app!r}"))
        for name in r.integrations:
            if not estate.has("integrations", name):
                problems.append(SectionProblem(i, "integrations", f"unknown integration {name!r}"))
        cred = r.credential.credential if r.credential else None
        if cred is not None and not estate.has("credentials", cred):
            problems.append(SectionProblem(i, "credential", f"unknown credential {cred!r}"))
        if r.prefix in prefixes:
            problems.append(
                SectionProblem(
                    i, "prefix", f"prefix {r.prefix} is already used by {prefixes[r.prefix]}"
                )
            )
        prefixes.setdefault(r.prefix, r.name)
    return problems


ROUTES_SECTION = register_section(
    EstateSection(
        key="routes",
        model=RouteSpec,
        load_current=load_routes,
        apply=apply_routes,
        check_references=check_routes,
        order=200,
        entity_type="gateway_route",
        description="Gateway routes: path prefix → registered upstream, scopes, limits, DLP.",
    )
)
