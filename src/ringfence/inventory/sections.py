"""The registry of ``ringfence.yaml`` sections: built-in inventory kinds and capability extensions.

Every top-level list in ``ringfence.yaml`` (``people``, ``vendors``, ``apps``, ...) is an
:class:`EstateSection`. Validation (file:line:column errors), ``plan`` (creates / updates /
deletes with field-level diffs), ``apply`` (one transaction, one audit record per change) and
``export`` treat every registered section the same way, so a capability that owns more
declarative state (gateway routes, playbooks, vendor-risk data) adds a top-level key by
registering a section; it never edits the estate engine. This module must never read or hold a
secret value: sections carry references (``vault:NAME`` / ``${env:NAME}``) only, and the
engine rejects anything that looks like an inline secret before a section sees it.

Example — the gateway registers a ``routes`` section in ``ringfence/gateway/estate_section.py``
(modules named ``ringfence.<capability>.estate_section`` are imported automatically before the
first validation/plan/export; any other module works too if it is imported before that)::

    from collections.abc import Sequence

    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from ringfence.inventory.sections import (
        ApplyContext, EstateSection, EstateView, SectionItem, SectionProblem, register_section,
    )
    from ringfence.gateway.models import Route

    class RouteSpec(SectionItem):           # extra="forbid", frozen; needs a ``name`` field
        name: str
        integration: str
        upstream: str
        methods: list[str] = ["GET"]

    def load_routes(session: Session) -> dict[str, dict[str, object]]:
        return {r.name: {"name": r.name, "integration": r.integration.name,
                         "upstream": r.upstream, "methods": r.methods}
                for r in session.scalars(select(Route))}

    def apply_routes(session: Session, creates: Sequence[RouteSpec],
                     updates: Sequence[RouteSpec], deletes: Sequence[str],
                     ctx: ApplyContext) -> None:
        ...  # insert / update / delete rows; the engine flushes, audits and commits

    def check_routes(items: Sequence[RouteSpec], estate: EstateView) -> list[SectionProblem]:
        return [SectionProblem(i, "integration", f"unknown integration {r.integration!r}")
                for i, r in enumerate(items) if not estate.has("integrations", r.integration)]

    register_section(EstateSection(
        key="routes", model=RouteSpec, load_current=load_routes, apply=apply_routes,
        check_references=check_routes, order=200, entity_type="route",
    ))

The engine normalises both sides through ``model`` before diffing, so ``load_current`` only
has to return plain field values (names for references, not ids).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict
from sqlalchemy.orm import Session

from ringfence.core.clock import Clock
from ringfence.core.errors import ConfigError
from ringfence.core.secretrefs import OWN_ENV_PROBLEM, names_own_env
from ringfence.store.vault import RESERVED_PREFIXES, is_reserved

ItemT = TypeVar("ItemT", bound=BaseModel)

#: ``${env:NAME}`` or ``vault:NAME`` — the only ways a secret may appear in ringfence.yaml.
REFERENCE_PATTERN = re.compile(
    r"^(\$\{env:[A-Za-z_][A-Za-z0-9_]{0,127}\}|vault:[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,199})$"
)

HOW_TO_REFERENCE = (
    "store the secret in the vault (`ringfence vault put NAME`) and write `vault:NAME`, "
    "or export it as an environment variable and write `${env:NAME}`"
)


def reference_problem(value: str) -> str | None:
    """Why ``value`` is not an acceptable secret reference, or None. Never echoes an inline
    value (it may be the secret itself); names a reserved vault name (not a secret)."""
    if not REFERENCE_PATTERN.match(value):
        return f"is not a secret reference (inline secrets are refused): {HOW_TO_REFERENCE}"
    if value.startswith("${env:") and names_own_env(value[len("${env:") : -1]):
        return f"{value} {OWN_ENV_PROBLEM}"
    if value.startswith("vault:") and is_reserved(value[len("vault:") :]):
        return (
            f"{value} is one of Ringfence's own keys (vault names under "
            f"{', '.join(RESERVED_PREFIXES)} are reserved): reference a secret of your own"
        )
    return None


def inline_secret_problem(value: str) -> str | None:
    """Why ``value`` (a plain text field, not a reference) looks like it holds a secret, or
    None: a known token shape (the log redactor's) or a URL with ``user:password@``. Never
    echoes the value."""
    from ringfence.core.logging import redact_value

    if redact_value(value) != value:
        return "looks like an inline secret (token/key format)"
    if "@" in value and "://" in value and url_credentials_removed(value) != value:
        return "carries credentials (user:password@)"
    return None


def url_credentials_removed(value: str) -> str:
    """``value`` without the ``user:password@`` of its URL(s), as far as one can tell."""
    return _URL_USERINFO.sub(r"\1", value)


# scheme://userinfo@ — the userinfo may not hold '/', '?', '#' or whitespace
_URL_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s]*@")


def _check_reference(value: str) -> str:
    problem = reference_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


#: Field type for any reference to a secret in a section item (``ref``, ``credential_ref``...).
SecretReference = Annotated[str, AfterValidator(_check_reference)]


class SectionItem(BaseModel):
    """Base for section item models: unknown fields are errors, items are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class SectionProblem:
    """A problem with item ``index`` of a section (``field`` None = the item as a whole)."""

    index: int
    field: str | None
    message: str


class EstateView:
    """What a reference check may look up: names declared in the file, else in the store.

    A section present in the file is authoritative, so only its names count. A section absent
    from the file is not managed by it; its names come from the store when one is at hand, and
    without a store (pure file validation) any name is accepted for it.
    """

    def __init__(
        self,
        declared: Mapping[str, Sequence[BaseModel]],
        key_fields: Mapping[str, str],
        stored: Mapping[str, set[str]] | None = None,
    ) -> None:
        self._declared = declared
        self._names: dict[str, set[str]] = {
            key: {str(getattr(item, key_fields[key])) for item in items}
            for key, items in declared.items()
        }
        self._stored = stored

    def declares(self, section: str) -> bool:
        return section in self._declared

    def items(self, section: str) -> Sequence[BaseModel]:
        """The items the file declares for ``section`` (empty if it does not manage it)."""
        return self._declared.get(section, ())

    def has(self, section: str, name: str) -> bool:
        if section in self._names:
            return name in self._names[section]
        if self._stored is None:
            return True
        return name in self._stored.get(section, set())


@dataclass(frozen=True)
class ApplyContext:
    """Handed to ``EstateSection.apply``: who applies, and the clock to stamp times with."""

    actor: str
    clock: Clock


LoadCurrent = Callable[[Session], Mapping[str, Mapping[str, Any]]]
ApplyFn = Callable[[Session, Sequence[Any], Sequence[Any], Sequence[str], ApplyContext], None]
CheckFn = Callable[[Sequence[Any], EstateView], list[SectionProblem]]
IdsFn = Callable[[Session], Mapping[str, str]]


@dataclass(frozen=True)
class EstateSection(Generic[ItemT]):
    """One top-level list of ``ringfence.yaml``.

    - ``key``: the top-level YAML key (``routes``).
    - ``model``: pydantic item model (subclass :class:`SectionItem`); ``key_field`` names the
      field that identifies an item (``name`` by default; ``email`` for people).
    - ``load_current(session)``: ``{name: {field: value}}`` for what the store holds now.
    - ``apply(session, creates, updates, deletes, ctx)``: make the store match. The engine
      calls it twice per apply: once with creates + updates (sections in ``order``), once with
      deletes (reverse ``order``), inside one transaction, and writes the audit records.
    - ``check_references(items, estate)``: dangling references etc., as
      :class:`SectionProblem` (the engine adds file:line:column).
    - ``order``: dependencies first (people 10 … flows 60; extensions ≥ 100).
    - ``keep_when_unset``: ``{field: value for new items}`` for fields the runtime also
      changes (an integration's quarantine status, a person's SCIM ``active``): when the file
      leaves them unset (None), plan ignores them and apply keeps the stored value; export
      omits them when they hold the value for new items.
    - ``ids(session)``: optional ``{name: row id}``; the audit records then carry the row id
      (as the REST API's do) instead of the name.
    """

    key: str
    model: type[ItemT]
    load_current: LoadCurrent
    apply: ApplyFn
    check_references: CheckFn | None = None
    order: int = 100
    key_field: str = "name"
    entity_type: str = ""
    keep_when_unset: Mapping[str, Any] = field(default_factory=dict)
    ids: IdsFn | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", self.key):
            raise ConfigError(f"estate section key {self.key!r} must be a lower_snake_case name")
        if self.key_field not in self.model.model_fields:
            raise ConfigError(
                f"estate section {self.key!r}: model {self.model.__name__} has no "
                f"{self.key_field!r} field"
            )
        if self.model.model_config.get("extra") != "forbid":
            raise ConfigError(
                f"estate section {self.key!r}: model {self.model.__name__} must forbid extra "
                "fields (subclass SectionItem)"
            )
        if not self.entity_type:
            object.__setattr__(self, "entity_type", self.key.removesuffix("s"))


RESERVED_KEYS = frozenset({"apiVersion", "kind", "metadata"})

_registry: dict[str, EstateSection[Any]] = {}
_discovered = False  # set once every section module is imported
_discovering = False  # in progress, in the thread holding _discover_lock
_discover_lock = threading.RLock()


# Called at the end of every non-empty apply, in its transaction, after the audit records.
# A capability reacting to estate changes (identity reaching the integrations of a person the
# file just deactivated) registers one from its ``estate_section`` module.
AfterApply = Callable[[Session, "ApplyContext"], None]
_after_apply: dict[str, AfterApply] = {}


def register_after_apply(name: str, hook: AfterApply) -> None:
    """Run ``hook(session, ctx)`` after each apply that changed something (same transaction)."""
    _after_apply[name] = hook


def after_apply_hooks() -> list[AfterApply]:
    _discover()
    return [_after_apply[k] for k in sorted(_after_apply)]


# Called by every plan (and so by every apply, before anything is written) with the changes
# it found: a capability refuses a change that would undo one of its own controls (identity:
# reactivating a person held by an emergency deactivation). Returns
# (section, item name, field, message) problems; the plan reports them located in the file.
PlanCheck = Callable[[Session, Sequence[Any]], list[tuple[str, str, str, str]]]
_plan_checks: dict[str, PlanCheck] = {}


def register_plan_check(name: str, hook: PlanCheck) -> None:
    """Run ``hook(session, changes)`` on every plan; the problems it returns refuse the plan."""
    _plan_checks[name] = hook


def plan_checks() -> list[PlanCheck]:
    _discover()
    return [_plan_checks[k] for k in sorted(_plan_checks)]


def register_section(section: EstateSection[Any]) -> EstateSection[Any]:
    """Add ``section`` to the registry (re-registering the same key replaces it)."""
    if section.key in RESERVED_KEYS:
        raise ConfigError(f"estate section key {section.key!r} is reserved")
    _registry[section.key] = section
    return section


def unregister_section(key: str) -> None:
    """Remove a section (tests use this to clean up after registering one)."""
    _registry.pop(key, None)


def _discover() -> None:
    """Import the built-in sections and every ``ringfence.<capability>.estate_section``.

    Thread-safe: a thread asking while another discovers waits for it (the API parses estates
    in its thread pool; before, a second first parse saw a half-filled registry and refused
    'vendors' as an unknown key); a section module asking while being imported returns."""
    global _discovered, _discovering
    if _discovered:
        return
    with _discover_lock:
        if _discovered or _discovering:
            return
        _discovering = True
        try:
            importlib.import_module("ringfence.inventory._builtin")
            import ringfence

            # Look for the file before importing: importing every capability package just to
            # ask would load the whole product (seconds) for a plan.
            for root in ringfence.__path__:
                for info in pkgutil.iter_modules([root]):
                    if not info.ispkg or info.name == "inventory":
                        continue
                    pkg = Path(root) / info.name
                    if (pkg / "estate_section.py").is_file() or (pkg / "estate_section").is_dir():
                        _import_section_module(f"ringfence.{info.name}.estate_section")
            # (a broken section module fails every attempt, not only the first one)
            _discovered = True
        finally:
            _discovering = False


def _import_section_module(name: str) -> None:
    try:
        importlib.import_module(name)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(
            f"cannot load estate section module {name}: {type(exc).__name__}: {exc}"
        ) from exc


def registered_sections() -> list[EstateSection[Any]]:
    """Every registered section, dependencies first."""
    _discover()
    return sorted(_registry.values(), key=lambda s: (s.order, s.key))


def get_section(key: str) -> EstateSection[Any] | None:
    _discover()
    return _registry.get(key)


__all__ = [
    "HOW_TO_REFERENCE",
    "REFERENCE_PATTERN",
    "ApplyContext",
    "EstateSection",
    "EstateView",
    "SecretReference",
    "SectionItem",
    "SectionProblem",
    "get_section",
    "plan_checks",
    "register_plan_check",
    "register_section",
    "registered_sections",
    "unregister_section",
]
