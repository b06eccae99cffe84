"""Extension sections: a capability's own top-level key gets the same validation, diff, audit,
transaction and round trip as the built-in sections."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import StrictStr
from sqlalchemy.orm import Session

from ringfence.core.errors import ConflictError
from ringfence.inventory.estate import (
    EstateInvalid,
    apply_estate,
    export_estate,
    parse_estate,
    plan_estate,
)
from ringfence.inventory.sections import (
    ApplyContext,
    EstateSection,
    EstateView,
    SecretReference,
    SectionItem,
    SectionProblem,
    get_section,
    register_section,
    registered_sections,
    unregister_section,
)
from ringfence.runtime import Runtime
from ringfence.store.models import AuditRecord
from tests.inventory.helpers import SMALL, fingerprint

# Its own table on its own metadata: a capability's tables come from its own migration.
_meta = sa.MetaData()
routes_table = sa.Table(
    "test_ext_routes",
    _meta,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("integration", sa.String(200), nullable=False),
    sa.Column("upstream", sa.String(500), nullable=False),
    sa.Column("methods", sa.JSON, nullable=False),
    sa.Column("credential_ref", sa.String(300)),
    sa.Column("headers", sa.JSON, nullable=False),
)


class HeaderSpec(SectionItem):
    name: StrictStr
    value: StrictStr  # declared by the model, so not taken for an inline secret


class RouteSpec(SectionItem):
    name: StrictStr
    integration: StrictStr
    upstream: StrictStr
    methods: list[StrictStr] = ["GET"]
    credential_ref: SecretReference | None = None
    headers: list[HeaderSpec] = []


def _load(session: Session) -> dict[str, dict[str, Any]]:
    return {row.name: dict(row._mapping) for row in session.execute(sa.select(routes_table))}


def _apply(
    session: Session,
    creates: Sequence[RouteSpec],
    updates: Sequence[RouteSpec],
    deletes: Sequence[str],
    ctx: ApplyContext,
) -> None:
    for spec in [*creates, *updates]:
        if spec.upstream == "https://explode.example":
            raise ConflictError("route refused by the test section")
    for spec in creates:
        session.execute(sa.insert(routes_table).values(**spec.model_dump()))
    for spec in updates:
        session.execute(
            sa.update(routes_table)
            .where(routes_table.c.name == spec.name)
            .values(**spec.model_dump())
        )
    if deletes:
        session.execute(sa.delete(routes_table).where(routes_table.c.name.in_(list(deletes))))


def _check(items: Sequence[RouteSpec], estate: EstateView) -> list[SectionProblem]:
    return [
        SectionProblem(i, "integration", f"unknown integration {r.integration!r}")
        for i, r in enumerate(items)
        if not estate.has("integrations", r.integration)
    ]


def _with_routes(rt: Runtime) -> Iterator[Runtime]:
    _meta.create_all(rt.store.engine)
    register_section(
        EstateSection(
            key="test_routes",
            model=RouteSpec,
            load_current=_load,
            apply=_apply,
            check_references=_check,
            order=200,
        )
    )
    yield rt
    unregister_section("test_routes")
    _meta.drop_all(rt.store.engine)


@pytest.fixture
def routes_section(any_runtime: Runtime) -> Iterator[Runtime]:
    """On SQLite and PostgreSQL."""
    yield from _with_routes(any_runtime)


@pytest.fixture
def routes_sqlite(runtime: Runtime) -> Iterator[Runtime]:
    """Validation does not depend on the engine: SQLite only, to keep the suite fast."""
    yield from _with_routes(runtime)


WITH_ROUTES = (
    SMALL
    + """test_routes:
  - name: crm-contacts
    integration: crm-to-chat
    upstream: https://api.crm.example
    methods: [GET, POST]
    credential_ref: vault:crm/route
    headers: [{name: X-Team, value: revenue}]
"""
)


def test_registered_section_is_planned_applied_audited_and_exported(
    routes_section: Runtime,
) -> None:
    rt = routes_section
    assert get_section("test_routes") is not None
    assert "test_routes" in [s.key for s in registered_sections()]
    plan = apply_estate(rt.store, parse_estate(WITH_ROUTES, "e.yaml"), clock=rt.clock)
    assert ("test_routes", "create", "crm-contacts") in {
        (c.section, c.action, c.name) for c in plan.changes
    }
    with rt.store.session() as s:
        actions = set(s.scalars(sa.select(AuditRecord.action)))
    assert "test_route.create" in actions
    # Same field-level diff as built-ins.
    changed = WITH_ROUTES.replace("methods: [GET, POST]", "methods: [GET]")
    with rt.store.session() as s:
        (change,) = plan_estate(s, parse_estate(changed, "e.yaml")).changes
    assert (change.action, change.fields[0].field, change.fields[0].after) == (
        "update",
        "methods",
        ["GET"],
    )
    # Round trip through export.
    text = export_estate(rt.store)
    assert "test_routes:" in text and "credential_ref: vault:crm/route" in text
    with rt.store.session() as s:
        assert plan_estate(s, parse_estate(text, "export.yaml")).is_empty
    # Deletes: an empty section is authoritative.
    emptied = SMALL + "test_routes: []\n"
    plan = apply_estate(rt.store, parse_estate(emptied, "e.yaml"), clock=rt.clock)
    assert [(c.section, c.action) for c in plan.changes] == [("test_routes", "delete")]


@pytest.mark.parametrize(
    ("replace", "by", "where", "what"),
    [
        (
            "    methods: [GET, POST]\n",
            "    methods: [GET, POST]\n    verb: PUT\n",
            "e.yaml:47:5: test_routes[0] (crm-contacts).verb",
            "unknown field 'verb'",
        ),
        (
            "methods: [GET, POST]",
            "methods: GET",
            "e.yaml:46:14: test_routes[0] (crm-contacts).methods",
            "valid list",
        ),
        (
            "integration: crm-to-chat\n    upstream",
            "integration: nope\n    upstream",
            "e.yaml:44:18: test_routes[0] (crm-contacts).integration",
            "unknown integration 'nope'",
        ),
        (
            "credential_ref: vault:crm/route",
            "credential_ref: s3cr3t-plain-value",
            "e.yaml:47:21: test_routes[0] (crm-contacts).credential_ref",
            "is not a secret reference",
        ),
        (
            "    credential_ref: vault:crm/route\n",
            "    credential_ref: vault:crm/route\n  - name: crm-contacts\n"
            "    integration: crm-to-chat\n    upstream: https://x.example\n",
            "e.yaml:48:11: test_routes[1] (crm-contacts).name",
            "duplicate name 'crm-contacts'",
        ),
        (
            "value: revenue}",
            "value: revenue, token: s3cr3t-plain-value}",
            "e.yaml:48:46: test_routes[0] (crm-contacts).headers[0].token",
            "inline secret in field 'token'",
        ),
        (
            "value: revenue}",
            "value: ghp_abcdefghijklmnopqrstuvwxyz0123456789}",
            "e.yaml:48:37: test_routes[0] (crm-contacts).headers[0].value",
            "looks like an inline secret",
        ),
    ],
    ids=[
        "unknown-field",
        "wrong-type",
        "dangling",
        "inline-secret",
        "duplicate",
        "nested-token-field",
        "nested-token-value",
    ],
)
def test_extension_section_errors_have_line_and_column(
    routes_sqlite: Runtime, replace: str, by: str, where: str, what: str
) -> None:
    rt = routes_sqlite
    apply_estate(rt.store, parse_estate(WITH_ROUTES, "e.yaml"), clock=rt.clock)
    before = fingerprint(rt.store)
    assert WITH_ROUTES.count(replace) == 1
    with pytest.raises(EstateInvalid) as info:
        apply_estate(rt.store, parse_estate(WITH_ROUTES.replace(replace, by), "e.yaml"))
    problems = [str(p) for p in info.value.problems]
    assert any(p.startswith(where) and what in p for p in problems), problems
    assert "s3cr3t-plain-value" not in "".join(problems)
    assert "ghp_abcdefghij" not in "".join(problems)
    assert fingerprint(rt.store) == before


def test_a_failing_section_rolls_back_the_whole_apply(routes_section: Runtime) -> None:
    rt = routes_section
    before = fingerprint(rt.store)
    boom = WITH_ROUTES.replace("https://api.crm.example", "https://explode.example")
    with pytest.raises(ConflictError, match="refused by the test section"):
        apply_estate(rt.store, parse_estate(boom, "e.yaml"), clock=rt.clock)
    # The built-in sections were written earlier in the same transaction: all gone again.
    assert fingerprint(rt.store) == before
    with rt.store.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(routes_table)) == 0


def test_unregistered_key_is_an_unknown_top_level_key() -> None:
    assert get_section("test_routes") is None
    with pytest.raises(EstateInvalid, match="unknown top-level key 'test_routes'"):
        parse_estate(WITH_ROUTES, "e.yaml")


def test_section_definitions_are_checked() -> None:
    from pydantic import BaseModel

    from ringfence.core.errors import ConfigError

    class Loose(BaseModel):
        name: str

    with pytest.raises(ConfigError, match="must forbid extra"):
        EstateSection(key="loose", model=Loose, load_current=_load, apply=_apply)
    with pytest.raises(ConfigError, match="has no 'id' field"):
        EstateSection(key="x", model=RouteSpec, load_current=_load, apply=_apply, key_field="id")
    with pytest.raises(ConfigError, match="lower_snake_case"):
        EstateSection(key="Bad-Key", model=RouteSpec, load_current=_load, apply=_apply)
    with pytest.raises(ConfigError, match="reserved"):
        register_section(
            EstateSection(key="metadata", model=RouteSpec, load_current=_load, apply=_apply)
        )


def test_a_broken_section_module_fails_every_time_with_its_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib

    from ringfence.core.errors import ConfigError
    from ringfence.inventory import sections

    real = importlib.import_module

    def broken(name: str, package: str | None = None) -> object:
        if name.endswith(".estate_section"):
            raise SyntaxError("half-written file")
        return real(name, package)

    monkeypatch.setattr(sections, "_discovered", False)
    monkeypatch.setattr(sections.importlib, "import_module", broken)
    for _ in range(2):
        with pytest.raises(ConfigError, match=r"cannot load estate section module ringfence\."):
            registered_sections()
    monkeypatch.setattr(sections.importlib, "import_module", real)
    assert "people" in [s.key for s in registered_sections()]
