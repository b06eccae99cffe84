"""Query and CRUD layer over the inventory tables, shared by the REST API (and any other caller).

One ``InventoryRepository`` works inside the caller's unit of work (a ``Store.session()``):
it resolves references by id or natural key with errors that name the field, checks
uniqueness and dangling references before writing, refuses to delete what is still
referenced (and a revoked integration at all: it is kept, its name and client_id its own),
lists with filters / sorting / pagination without N+1 queries, and appends exactly
one audit record (before/after, no secrets) per change in the same transaction. It must never
accept or return a secret value: credentials hold only ``vault:NAME`` / ``${env:NAME}``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, Select, func, inspect, or_, select, text, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from ringfence.core.clock import Clock, SystemClock
from ringfence.core.errors import ConflictError, NotFoundError, ValidationError
from ringfence.core.levels import DataClass
from ringfence.core.logging import get_logger
from ringfence.core.lookalike import skeleton
from ringfence.core.secretrefs import OWN_ENV_PROBLEM, names_own_env
from ringfence.inventory.sections import inline_secret_problem
from ringfence.store import audit
from ringfence.store.models import (
    App,
    Base,
    Credential,
    CredentialKind,
    DataFlow,
    FlowOrigin,
    Integration,
    IntegrationKind,
    IntegrationStatus,
    Person,
    VaultSecret,
    Vendor,
)
from ringfence.store.vault import RESERVED_PREFIXES, is_reserved

_log = get_logger("ringfence.inventory")
DataClassName = Literal["public", "internal", "confidential", "restricted"]
EntityKind = Literal["vendor", "app", "integration", "credential", "flow", "person"]

_VAULT_REF = re.compile(r"^vault:([A-Za-z0-9._/-]{1,200})$")
_ENV_REF = re.compile(r"^\$\{env:([A-Za-z_][A-Za-z0-9_]{0,199})\}$")
REFERENCE_HINT = (
    "store the secret with `ringfence vault put NAME` and use `vault:NAME`, "
    "or keep it in an environment variable and use `${env:NAME}`"
)


class InvalidFieldError(ValidationError):
    """A well-typed field whose value the inventory refuses (dangling reference, inline secret)."""

    status = 422

    def __init__(self, field_name: str, problem: str, *, code: str) -> None:
        super().__init__(
            f"{field_name}: {problem}",
            errors=[{"field": field_name, "problem": problem}],
            code=code,
        )


# -- list queries (also the API's query-parameter models) -------------------------------------


class ListQuery(BaseModel):
    """Pagination and sorting every list accepts; unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(50, ge=1, le=500, description="Page size (1-500).")
    offset: int = Field(0, ge=0, le=10_000_000, description="Items to skip.")
    sort: str | None = Field(
        None,
        max_length=200,
        description="Comma-separated fields; prefix with '-' for descending, e.g. '-created_at'.",
    )
    q: str | None = Field(
        None, min_length=1, max_length=200, description="Case-insensitive substring of the name."
    )


class VendorQuery(ListQuery):
    pass


class AppQuery(ListQuery):
    vendor: str | None = Field(None, max_length=200, description="Vendor name or id.")
    sanctioned: bool | None = None
    clearance: DataClassName | None = Field(None, description="Exact clearance level.")
    min_clearance: DataClassName | None = Field(None, description="Clearance at least this.")
    category: str | None = Field(None, max_length=80)
    owner: str | None = Field(None, max_length=320, description="Owner email or id.")


class IntegrationQuery(ListQuery):
    status: IntegrationStatus | None = None
    kind: IntegrationKind | None = None
    owner: str | None = Field(None, max_length=320, description="Owner email or id.")
    source_app: str | None = Field(None, max_length=200, description="App name or id.")
    destination_app: str | None = Field(None, max_length=200, description="App name or id.")
    app: str | None = Field(None, max_length=200, description="App on either side.")
    vendor: str | None = Field(None, max_length=200, description="Vendor of either app.")
    data_class: DataClassName | None = Field(None, description="Declares this data class.")


class CredentialQuery(ListQuery):
    integration: str | None = Field(None, max_length=200, description="Integration name or id.")
    kind: CredentialKind | None = None
    expires_before: AwareDatetime | None = None


class FlowQuery(ListQuery):
    source_app: str | None = Field(None, max_length=200)
    destination_app: str | None = Field(None, max_length=200)
    integration: str | None = Field(None, max_length=200)
    origin: FlowOrigin | None = None
    data_class: DataClassName | None = None


class PersonQuery(ListQuery):
    active: bool | None = None
    department: str | None = Field(None, max_length=120)


T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int

    @property
    def next_offset(self) -> int | None:
        nxt = self.offset + self.limit
        return nxt if nxt < self.total else None


# -- entity registry --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ref:
    """An API field naming another entity; stored as ``column``."""

    column: str
    target: EntityKind


@dataclass(frozen=True)
class _Spec:
    kind: EntityKind
    model: type[Base]
    key: str  # natural key: what a human calls it
    unique: tuple[str, ...]
    refs: Mapping[str, _Ref]
    sortable: frozenset[str]
    loaders: tuple[LoaderOption, ...] = ()
    # (referencing kind, its column, its field name) checked before delete
    referenced_by: tuple[tuple[EntityKind, Any, str], ...] = field(default=())


_COMMON_SORT = frozenset({"created_at", "updated_at"})
SPECS: dict[EntityKind, _Spec] = {
    "vendor": _Spec(
        "vendor",
        Vendor,
        "name",
        ("name",),
        {},
        _COMMON_SORT | {"name"},
        referenced_by=(("app", App.vendor_id, "vendor"),),
    ),
    "app": _Spec(
        "app",
        App,
        "name",
        ("name",),
        {"vendor": _Ref("vendor_id", "vendor"), "owner": _Ref("owner_id", "person")},
        _COMMON_SORT | {"name", "category", "clearance", "sanctioned"},
        (joinedload(App.vendor), joinedload(App.owner)),
        (
            ("integration", Integration.source_app_id, "source_app"),
            ("integration", Integration.destination_app_id, "destination_app"),
            ("flow", DataFlow.source_app_id, "source_app"),
            ("flow", DataFlow.destination_app_id, "destination_app"),
        ),
    ),
    "integration": _Spec(
        "integration",
        Integration,
        "name",
        ("name", "client_id"),
        {
            "source_app": _Ref("source_app_id", "app"),
            "destination_app": _Ref("destination_app_id", "app"),
            "owner": _Ref("owner_id", "person"),
        },
        _COMMON_SORT | {"name", "status", "kind"},
        (
            joinedload(Integration.source_app),
            joinedload(Integration.destination_app),
            joinedload(Integration.owner),
            selectinload(Integration.credentials),
        ),
        (
            ("credential", Credential.integration_id, "integration"),
            ("flow", DataFlow.integration_id, "integration"),
        ),
    ),
    "credential": _Spec(
        "credential",
        Credential,
        "name",
        ("name",),
        {"integration": _Ref("integration_id", "integration")},
        _COMMON_SORT | {"name", "kind", "expires_at", "rotated_at", "last_used_at"},
        (joinedload(Credential.integration),),
    ),
    "flow": _Spec(
        "flow",
        DataFlow,
        "name",
        (),
        {
            "source_app": _Ref("source_app_id", "app"),
            "destination_app": _Ref("destination_app_id", "app"),
            "integration": _Ref("integration_id", "integration"),
        },
        _COMMON_SORT | {"name", "origin", "first_seen", "last_seen"},
        (
            joinedload(DataFlow.source_app),
            joinedload(DataFlow.destination_app),
            joinedload(DataFlow.integration),
        ),
    ),
    "person": _Spec(
        "person",
        Person,
        "email",
        ("email", "external_id"),
        {},
        _COMMON_SORT | {"email", "name", "department", "active"},
        referenced_by=(
            ("app", App.owner_id, "owner"),
            ("integration", Integration.owner_id, "owner"),
        ),
    ),
}

_STATUS_ACTIONS: dict[IntegrationStatus, str] = {
    IntegrationStatus.ACTIVE: "activate",
    IntegrationStatus.QUARANTINED: "quarantine",
    IntegrationStatus.REVOKED: "revoke",
}


def _refuse_inline_secret(field_name: str, value: Any) -> None:
    """A plain field (a description, a website, a base URL...) holding what looks like a
    secret is refused like ``ringfence.yaml`` refuses it: stored, it would sit in plaintext in
    the database and be written into the exported ringfence.yaml (which goes to git)."""
    if isinstance(value, str):
        problem = inline_secret_problem(value)
        if problem is not None:
            raise InvalidFieldError(
                field_name, f"{problem}: {REFERENCE_HINT}", code="inline_secret"
            )
    elif isinstance(value, list | tuple):
        for v in value:
            _refuse_inline_secret(field_name, v)
    elif isinstance(value, Mapping):
        for v in value.values():
            _refuse_inline_secret(field_name, v)


def parse_secret_reference(value: str, field_name: str = "ref") -> tuple[str, str]:
    """``("vault", NAME)`` or ``("env", NAME)``; anything else is treated as an inline secret.

    The error never repeats the value: it may be the very secret we refuse to store.
    """
    if m := _VAULT_REF.match(value):
        if is_reserved(m.group(1)):
            raise InvalidFieldError(
                field_name,
                f"{value} is one of Ringfence's own keys (reserved vault names: "
                f"{', '.join(RESERVED_PREFIXES)}); reference a secret of your own",
                code="reserved_secret",
            )
        return "vault", m.group(1)
    if m := _ENV_REF.match(value):
        if names_own_env(m.group(1)):
            raise InvalidFieldError(
                field_name, f"{value} {OWN_ENV_PROBLEM}", code="reserved_secret"
            )
        return "env", m.group(1)
    raise InvalidFieldError(
        field_name,
        f"must be a secret reference, not a secret: {REFERENCE_HINT}",
        code="inline_secret",
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def snapshot(obj: Base) -> dict[str, Any]:
    """Column values of ``obj`` for the audit log (references and hashes only, never secrets)."""
    mapper = inspect(type(obj))
    return {
        col.key: _jsonable(getattr(obj, col.key))
        for col in mapper.column_attrs
        if col.key != "updated_at"
    }


class InventoryRepository:
    """CRUD + queries for one unit of work; every change is audited as ``actor``."""

    def __init__(self, session: Session, *, actor: str, clock: Clock | None = None) -> None:
        self._s = session
        self._actor = actor
        self._clock = clock or SystemClock()

    # -- lookups ----------------------------------------------------------------------------
    def _find(self, kind: EntityKind, ref: str) -> Base | None:
        spec = SPECS[kind]
        model: Any = spec.model
        stmt = select(model).options(*spec.loaders)
        found: Base | None = self._s.scalars(stmt.where(model.id == ref)).unique().first()
        if found is not None:
            return found
        rows = list(
            self._s.scalars(stmt.where(getattr(spec.model, spec.key) == ref).limit(2)).unique()
        )
        if len(rows) > 1:
            raise ConflictError(
                f"{kind} name {ref!r} is ambiguous (declared and observed); use its id",
                code="ambiguous_reference",
            )
        return rows[0] if rows else None

    def get(self, kind: EntityKind, ref: str) -> Any:
        """The entity with id or natural key ``ref``; 404 otherwise."""
        found = self._find(kind, ref)
        if found is None:
            raise NotFoundError(f"no {kind} with id or {SPECS[kind].key} {ref!r}")
        return found

    def _resolve(self, field_name: str, target: EntityKind, ref: str) -> str:
        found = self._find(target, ref)
        if found is None:
            raise InvalidFieldError(
                field_name,
                f"no {target} with id or {SPECS[target].key} {ref!r}",
                code="unknown_reference",
            )
        return str(found.id)  # type: ignore[attr-defined]

    def _filter_ref(self, param: str, target: EntityKind, ref: str) -> str:
        return self._resolve(param, target, ref)

    # -- listing ----------------------------------------------------------------------------
    def list_page(self, kind: EntityKind, query: ListQuery) -> Page[Any]:
        spec = SPECS[kind]
        model: Any = spec.model
        conds: list[ColumnElement[bool]] = []
        if query.q:
            key = func.lower(getattr(model, spec.key))
            conds.append(key.contains(query.q.lower(), autoescape=True))
        conds.extend(self._filters(kind, query))
        base = select(model.id).where(*conds)
        total = self._s.scalar(select(func.count()).select_from(base.subquery())) or 0
        stmt: Select[Any] = select(model).where(*conds).options(*spec.loaders)
        stmt = stmt.order_by(*self._order(spec, query.sort), model.id)
        stmt = stmt.limit(query.limit).offset(query.offset)
        items = list(self._s.scalars(stmt).unique())
        return Page(items=items, total=total, limit=query.limit, offset=query.offset)

    @staticmethod
    def _order(spec: _Spec, sort: str | None) -> list[Any]:
        if not sort:
            return [getattr(spec.model, spec.key).asc()]
        out = []
        for raw in sort.split(","):
            token = raw.strip()
            name = token.lstrip("-")
            if name not in spec.sortable:
                raise InvalidFieldError(
                    "sort",
                    f"cannot sort {spec.kind}s by {name!r}; allowed: {sorted(spec.sortable)}",
                    code="invalid_query",
                )
            col = getattr(spec.model, name)
            out.append(col.desc() if token.startswith("-") else col.asc())
        return out

    def _filters(self, kind: EntityKind, q: ListQuery) -> list[ColumnElement[bool]]:
        c: list[ColumnElement[bool]] = []
        if isinstance(q, AppQuery):
            if q.vendor:
                c.append(App.vendor_id == self._filter_ref("vendor", "vendor", q.vendor))
            if q.sanctioned is not None:
                c.append(App.sanctioned == q.sanctioned)
            if q.clearance:
                c.append(App.clearance == int(DataClass.parse(q.clearance)))
            if q.min_clearance:
                c.append(App.clearance >= int(DataClass.parse(q.min_clearance)))
            if q.category:
                c.append(App.category == q.category)
            if q.owner:
                c.append(App.owner_id == self._filter_ref("owner", "person", q.owner))
        elif isinstance(q, IntegrationQuery):
            if q.status:
                c.append(Integration.status == q.status)
            if q.kind:
                c.append(Integration.kind == q.kind)
            if q.owner:
                c.append(Integration.owner_id == self._filter_ref("owner", "person", q.owner))
            if q.source_app:
                c.append(
                    Integration.source_app_id == self._filter_ref("source_app", "app", q.source_app)
                )
            if q.destination_app:
                dest = self._filter_ref("destination_app", "app", q.destination_app)
                c.append(Integration.destination_app_id == dest)
            if q.app:
                app_id = self._filter_ref("app", "app", q.app)
                c.append(
                    or_(
                        Integration.source_app_id == app_id,
                        Integration.destination_app_id == app_id,
                    )
                )
            if q.vendor:
                apps = select(App.id).where(
                    App.vendor_id == self._filter_ref("vendor", "vendor", q.vendor)
                )
                c.append(
                    or_(
                        Integration.source_app_id.in_(apps),
                        Integration.destination_app_id.in_(apps),
                    )
                )
            if q.data_class:
                c.append(_json_list_contains(self._s, Integration.data_classes, q.data_class))
        elif isinstance(q, CredentialQuery):
            if q.integration:
                integ = self._filter_ref("integration", "integration", q.integration)
                c.append(Credential.integration_id == integ)
            if q.kind:
                c.append(Credential.kind == q.kind)
            if q.expires_before:
                c.append(Credential.expires_at < q.expires_before)
        elif isinstance(q, FlowQuery):
            if q.source_app:
                c.append(
                    DataFlow.source_app_id == self._filter_ref("source_app", "app", q.source_app)
                )
            if q.destination_app:
                dest = self._filter_ref("destination_app", "app", q.destination_app)
                c.append(DataFlow.destination_app_id == dest)
            if q.integration:
                integ = self._filter_ref("integration", "integration", q.integration)
                c.append(DataFlow.integration_id == integ)
            if q.origin:
                c.append(DataFlow.origin == q.origin)
            if q.data_class:
                c.append(_json_list_contains(self._s, DataFlow.data_classes, q.data_class))
        elif isinstance(q, PersonQuery):
            if q.active is not None:
                c.append(Person.active == q.active)
            if q.department:
                c.append(Person.department == q.department)
        return c

    # -- writes -----------------------------------------------------------------------------
    def _prepare(self, spec: _Spec, values: Mapping[str, Any]) -> dict[str, Any]:
        """API field names → column values; references resolved, levels and secrets checked."""
        data: dict[str, Any] = {}
        for name, value in values.items():
            ref = spec.refs.get(name)
            if ref is not None:
                data[ref.column] = None if value is None else self._resolve(name, ref.target, value)
            elif name == "clearance" and value is not None:
                data[name] = int(DataClass.parse(value))
            else:
                if not (spec.kind == "credential" and name == "ref"):
                    _refuse_inline_secret(name, value)
                data[name] = value
        if spec.kind == "credential" and data.get("ref") is not None:
            scheme, secret_name = parse_secret_reference(data["ref"])
            if scheme == "vault" and self._vault_secret_missing(secret_name):
                raise InvalidFieldError(
                    "ref",
                    f"no vault secret named {secret_name!r}: put it first with "
                    f"`ringfence vault put {secret_name}`",
                    code="unknown_reference",
                )
        return data

    def _vault_secret_missing(self, name: str) -> bool:
        return self._s.scalar(select(VaultSecret.id).where(VaultSecret.name == name)) is None

    def _check_unique(self, spec: _Spec, data: Mapping[str, Any], own_id: str | None) -> None:
        model: Any = spec.model
        for col in spec.unique:
            value = data.get(col)
            if value is None:
                continue
            stmt = select(model.id).where(getattr(model, col) == value)
            if own_id is not None:
                stmt = stmt.where(model.id != own_id)
            if self._s.scalar(stmt.limit(1)) is not None:
                raise ConflictError(
                    f"a {spec.kind} with {col} {value!r} already exists",
                    code="duplicate",
                    field=col,
                )
            if col == "name" and isinstance(value, str):
                self._check_lookalike(spec, value, own_id)
        self._check_reads_as_another(spec, data, own_id)
        if spec.kind == "flow" and ("name" in data or "origin" in data):
            stmt = select(model.id).where(
                model.name == data["name"], model.origin == data["origin"]
            )
            if own_id is not None:
                stmt = stmt.where(model.id != own_id)
            if self._s.scalar(stmt.limit(1)) is not None:
                raise ConflictError(
                    f"a {data['origin']} flow named {data['name']!r} already exists",
                    code="duplicate",
                    field="name",
                )

    def _check_reads_as_another(
        self, spec: _Spec, data: Mapping[str, Any], own_id: str | None
    ) -> None:
        """Lookups take "id or name" (and the responder maps an alert's entity by name or
        OAuth client id): a name equal to another's id, or an integration name equal to
        another's client id (and the reverse), would make them pick the wrong one."""
        model: Any = spec.model
        name = data.get(spec.key)
        checks: list[tuple[str, Any, str, str]] = []  # (field, value, other's column, label)
        if isinstance(name, str):
            checks.append((spec.key, name, "id", "id"))
            if spec.kind == "integration":
                checks.append((spec.key, name, "client_id", "client_id"))
        client_id = data.get("client_id") if spec.kind == "integration" else None
        if isinstance(client_id, str):
            checks.append(("client_id", client_id, "name", "name"))
            checks.append(("client_id", client_id, "id", "id"))
        for field_name, value, column, label in checks:
            stmt = select(getattr(model, spec.key)).where(getattr(model, column) == value)
            if own_id is not None:
                stmt = stmt.where(model.id != own_id)
            other = self._s.scalar(stmt.limit(1))
            if other is not None:
                raise ConflictError(
                    f"{spec.kind} {field_name} {value!r} is the {label} of {spec.kind} "
                    f"{other!r}: lookups by id or name would take one for the other",
                    code="ambiguous_name",
                    field=field_name,
                )

    def _check_lookalike(self, spec: _Spec, name: str, own_id: str | None) -> None:
        """A name that reads like another of its kind (Unicode UTS #39 skeleton: Cyrillic a,
        I for l, 0 for O) is refused, as in ringfence.yaml: one would be taken for the other
        in reviews, approvals and the console."""
        model: Any = spec.model
        key = skeleton(name)
        stmt = select(model.name)
        if own_id is not None:
            stmt = stmt.where(model.id != own_id)
        for other in self._s.scalars(stmt):
            if other != name and skeleton(other) == key:
                raise ConflictError(
                    f"{spec.kind} name {name!a} reads like the existing {other!a} "
                    "(Unicode UTS #39 confusables)",
                    code="lookalike_name",
                    field="name",
                )

    @staticmethod
    def _check_shape(spec: _Spec, obj: Any) -> None:
        if spec.kind == "integration":
            kind = IntegrationKind(obj.kind)
            if kind is IntegrationKind.APP_TO_APP and obj.source_app_id is None:
                raise InvalidFieldError(
                    "source_app", "required for an app_to_app integration", code="missing_field"
                )
            if kind is IntegrationKind.SERVICE_ACCOUNT and obj.source_app_id is not None:
                raise InvalidFieldError(
                    "source_app",
                    "a service_account integration calls one app and has no source app",
                    code="invalid_field",
                )

    def _flush(self, kind: str) -> None:
        try:
            self._s.flush()
        except SAIntegrityError:
            # A concurrent writer got there between our check and our write.
            raise ConflictError(
                f"the {kind} conflicts with a concurrent change; retry", code="conflict"
            ) from None

    def _audit(
        self,
        action: str,
        kind: EntityKind,
        entity_id: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        _log.info("inventory_change", action=action, entity_id=entity_id, actor=self._actor)
        audit.append(
            self._s,
            actor=self._actor,
            action=action,
            entity_type=kind,
            entity_id=entity_id,
            before=before,
            after=after,
            clock=self._clock,
        )

    def create(self, kind: EntityKind, values: Mapping[str, Any]) -> Any:
        spec = SPECS[kind]
        data = self._prepare(spec, values)
        if kind == "flow":
            data.setdefault("origin", FlowOrigin.DECLARED)
        self._check_unique(spec, data, None)
        now = self._clock.now()
        obj: Any = spec.model(**data, created_at=now, updated_at=now)
        for col in inspect(spec.model).column_attrs:
            # Apply scalar column defaults now so the shape check sees the final values.
            default = col.columns[0].default
            if getattr(obj, col.key) is None and default is not None and default.is_scalar:
                setattr(obj, col.key, default.arg)
        self._check_shape(spec, obj)
        self._s.add(obj)
        self._flush(kind)
        self._audit(f"{kind}.create", kind, obj.id, None, snapshot(obj))
        return self.get(kind, obj.id)

    def update(self, kind: EntityKind, ref: str, changes: Mapping[str, Any]) -> Any:
        spec = SPECS[kind]
        obj: Any = self.get(kind, ref)
        before = snapshot(obj)
        data = self._prepare(spec, changes)
        if kind == "integration":
            _refuse_renaming_revoked(obj, data)
        if kind == "flow":
            data = {"name": obj.name, "origin": obj.origin, **data}
        self._check_unique(spec, data, obj.id)
        for key, value in data.items():
            setattr(obj, key, value)
        self._check_shape(spec, obj)
        after = snapshot(obj)
        if after == before:
            return obj
        obj.updated_at = self._clock.now()
        self._flush(kind)
        self._audit(f"{kind}.update", kind, obj.id, before, after)
        # Changed foreign keys do not refresh loaded relationships: reload them.
        self._s.expire(obj)
        return self.get(kind, obj.id)

    def references_to(self, kind: EntityKind, entity_id: str) -> list[dict[str, Any]]:
        """What still points at this entity: ``[{type, field, count, examples}]``."""
        out: list[dict[str, Any]] = []
        for ref_kind, column, field_name in SPECS[kind].referenced_by:
            ref_spec = SPECS[ref_kind]
            ref_model: Any = ref_spec.model
            where = column == entity_id
            count = self._s.scalar(select(func.count()).select_from(ref_model).where(where)) or 0
            if count:
                examples = list(
                    self._s.scalars(
                        select(getattr(ref_model, ref_spec.key))
                        .where(where)
                        .order_by(getattr(ref_model, ref_spec.key))
                        .limit(5)
                    )
                )
                out.append(
                    {"type": ref_kind, "field": field_name, "count": count, "examples": examples}
                )
        return out

    def delete(self, kind: EntityKind, ref: str) -> None:
        spec = SPECS[kind]
        obj: Any = self.get(kind, ref)
        if kind == "integration" and obj.status is IntegrationStatus.REVOKED:
            raise RevokedIsFinal(
                f"integration {obj.name!r} is revoked, which is final: it is kept as the "
                "record of what was revoked — its gateway clients and API keys, review "
                "decisions and incidents stay with it, and its name and client_id are never "
                "registered again. It cannot be deleted (list without it: ?status=active); "
                "register a new integration under a new name instead",
                integration=obj.name,
            )
        if kind == "integration":
            waiting = revoke_waiting(self._s, obj.id)
            if waiting is not None:
                raise ConflictError(
                    f"a revoke of integration {obj.name!r} waits for a second person "
                    f"(incident {waiting[0]}, step {waiting[1]}): deleting it would set that "
                    "request aside and free its name and client_id; approve or skip the "
                    f"step first (/api/v1/respond/incidents/{waiting[0]}/steps/{waiting[1]}"
                    "/approve or …/skip)",
                    code="revoke_pending",
                    integration=obj.name,
                    incident=waiting[0],
                )
        refs = self.references_to(kind, obj.id)
        if kind == "vendor":
            refs += [
                {"type": table.removesuffix("s"), "field": "vendor", "count": n, "examples": []}
                for table, n in vendor_records(self._s, obj.id)
            ]
        if refs:
            what = "; ".join(
                f"{r['count']} {r['type']}(s) via {r['field']}"
                + (f" ({', '.join(str(e) for e in r['examples'])})" if r["examples"] else "")
                for r in refs
            )
            raise ConflictError(
                f"{kind} {getattr(obj, spec.key)!r} is still referenced by {what}",
                code="still_referenced",
                referenced_by=refs,
            )
        before = snapshot(obj)
        if kind == "integration":
            record_cascade(self._s, obj.id, obj.name, actor=self._actor, clock=self._clock)
        self._s.delete(obj)
        self._flush(kind)
        self._audit(f"{kind}.delete", kind, obj.id, before, None)

    def set_integration_status(
        self, ref: str, status: IntegrationStatus, reason: str | None = None
    ) -> tuple[Integration, bool]:
        """Quarantine / revoke / activate; returns (integration, changed). Revoked is final."""
        obj: Integration = self.get("integration", ref)
        current = IntegrationStatus(obj.status)
        if current is status:
            return obj, False
        if current is IntegrationStatus.REVOKED:
            raise ConflictError(
                f"integration {obj.name!r} is revoked, which is final; register a new integration "
                "(with new credentials) instead",
                code="invalid_transition",
            )
        before = snapshot(obj)
        obj.status = status
        obj.updated_at = self._clock.now()
        after = snapshot(obj)
        if reason:
            after["reason"] = reason
        self._flush("integration")
        self._audit(f"integration.{_STATUS_ACTIONS[status]}", "integration", obj.id, before, after)
        return obj, True


class RevokedIsFinal(ConflictError):
    """A change that would undo a revoke: delete a revoked integration, or free its name or
    client_id for another (``409 revoked_is_final``)."""

    code = "revoked_is_final"


# What identifies a revoked integration to people, alerts and the responder: kept for good.
_IDENTITY_FIELDS = ("name", "client_id")


def _refuse_renaming_revoked(obj: Integration, data: Mapping[str, Any]) -> None:
    """Revoked is final (session 14): renaming a revoked integration or clearing its
    client_id would free them for a new, active integration — the revoked one back under
    another row, with one person's PATCH. Other fields (description, owner...) may change."""
    if obj.status is not IntegrationStatus.REVOKED:
        return
    for name in _IDENTITY_FIELDS:
        if name in data and data[name] != getattr(obj, name):
            raise RevokedIsFinal(
                f"integration {obj.name!r} is revoked, which is final: its {name} stays "
                "its own and is never given to another integration; register a new "
                "integration under a new name instead",
                field=name,
                integration=obj.name,
            )


def revoke_waiting(session: Session, integration_id: str) -> tuple[str, int] | None:
    """(incident, step) of a revoke of this integration that waits for a person — a revoke
    request's or a playbook's ``revoke_integration`` step not run yet, in an incident that is
    not a drill nor closed — or None. Read through SQL: inventory does not depend on the
    responder's models."""
    if not inspect(session.connection()).has_table("respond_steps"):
        return None
    row = session.execute(
        text(
            "SELECT i.id, st.position FROM respond_incidents i "
            "JOIN respond_steps st ON st.incident_id = i.id "
            "WHERE i.integration_id = :integration AND i.drill = :drill "
            "AND i.status != 'closed' AND st.action = 'revoke_integration' "
            "AND st.status IN ('pending', 'awaiting_approval', 'running') "
            "ORDER BY i.opened_at, i.id LIMIT 1"
        ),
        {"integration": integration_id, "drill": False},
    ).first()
    return (str(row[0]), int(row[1])) if row is not None else None


def record_cascade(
    session: Session, integration_id: str, integration: str, *, actor: str, clock: Clock
) -> None:
    """Before an integration is deleted: one ``gateway.client.delete`` audit record per
    gateway client the database cascade deletes with it, naming its API keys (``keys``: prefixes).

    The cascade writes no record, so until session 14 the machine identities an integration
    had — which client ids existed, which keys, whether revoked — left the tamper-evident log
    with it. Read through SQL: inventory does not depend on the gateway's models."""
    if not inspect(session.connection()).has_table("gateway_clients"):
        return
    clients = session.execute(
        text(
            "SELECT id, client_id, name, revoked_at FROM gateway_clients "
            "WHERE integration_id = :integration ORDER BY client_id"
        ),
        {"integration": integration_id},
    ).all()
    for pk, client_id, name, revoked_at in clients:
        keys = session.execute(
            text(
                "SELECT prefix, revoked_at FROM gateway_api_keys WHERE client_pk = :pk "
                "ORDER BY prefix"
            ),
            {"pk": pk},
        ).all()
        audit.append(
            session,
            actor=actor,
            action="gateway.client.delete",
            entity_type="gateway_client",
            entity_id=str(client_id),
            before={
                "name": name,
                "integration": integration,
                "revoked": revoked_at is not None,
                "keys": [
                    {"prefix": prefix, "revoked": key_revoked is not None}
                    for prefix, key_revoked in keys
                ],
            },
            after={"reason": f"integration {integration} deleted"},
            clock=clock,
        )


def vendor_records(session: Session, vendor_id: str) -> list[tuple[str, int]]:
    """``[(table, rows)]`` of the capability records (vendor risk: questionnaires and their
    answers, evidence documents, certifications, contracts, pentests) that deleting the vendor
    would take with it (their foreign keys cascade). A table marked
    ``info={"deleted_with_owner": True}`` (the vendor's risk profile: settings) goes along.

    Deleting a vendor, through the API or by dropping (or renaming) it in ringfence.yaml,
    silently destroyed all of them — answers a vendor submitted, encrypted evidence (its data
    keys left behind in the vault) — with one ``vendor.delete`` audit record. They are kept:
    the delete is refused, naming them, as for a vendor its apps still belong to."""
    from ringfence.store.all_models import load_all_models

    out: list[tuple[str, int]] = []
    for table in load_all_models().sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name != Vendor.__tablename__ or fk.ondelete != "CASCADE":
                continue
            if table.info.get("deleted_with_owner"):  # settings (a profile), not records
                continue
            count = session.scalar(
                select(func.count()).select_from(table).where(fk.parent == vendor_id)
            )
            if count:
                out.append((table.name, int(count)))
    return out


def _json_list_contains(session: Session, column: Any, value: str) -> ColumnElement[bool]:
    """``value in column`` for a JSON list column, on SQLite and PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        return type_coerce(column, JSONB).contains([value])
    each = func.json_each(column).table_valued("value")
    return select(each.c.value).where(each.c.value == value).exists()


def entity_kinds() -> Sequence[EntityKind]:
    return tuple(SPECS)
