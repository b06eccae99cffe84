"""The declarative estate: load and validate ``ringfence.yaml``, plan, apply, export.

``load_estate`` turns a file into validated section items or raises :class:`EstateInvalid`
listing every problem with ``file:line:column``. ``plan_estate`` diffs it against the store
(creates / updates with field-level changes / deletes). ``apply_estate`` reconciles in ONE
transaction, writing one audit record per change; applying the same file twice changes nothing.
``export_estate`` writes the store back so that export → plan gives an empty plan.

A section present in the file is authoritative (what it does not list is deleted); a section
absent from the file is left alone. Observed data flows are never touched. An invalid file
changes nothing. This module never holds a secret: anything that looks like one is refused
with advice on how to reference it, and no error message echoes a scalar from the file.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from io import StringIO
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictStr
from pydantic import ValidationError as PydanticValidationError
from ruamel.yaml import YAML
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from ringfence.core.clock import Clock, SystemClock
from ringfence.core.errors import ConflictError, ValidationError
from ringfence.core.logging import get_logger, redact_value
from ringfence.core.lookalike import skeleton
from ringfence.inventory._missing_secrets import find_secret_gaps
from ringfence.inventory._yamlsource import MAX_BYTES, Positions, SourceError, read_yaml
from ringfence.inventory.sections import (
    HOW_TO_REFERENCE,
    RESERVED_KEYS,
    ApplyContext,
    EstateSection,
    EstateView,
    SectionProblem,
    after_apply_hooks,
    inline_secret_problem,
    plan_checks,
    reference_problem,
    registered_sections,
    url_credentials_removed,
)
from ringfence.store import audit
from ringfence.store.db import Store
from ringfence.store.models import DataFlow, FlowOrigin

API_VERSION = "ringfence/v1"

_log = get_logger(__name__)

#: Field names that only ever hold a secret value; in ringfence.yaml they are always an error.
SECRET_FIELD_NAMES = frozenset(
    {
        "secret",
        "value",
        "token",
        "password",
        "passwd",
        "api_key",
        "apikey",
        "client_secret",
        "private_key",
        "access_token",
        "refresh_token",
        "secret_value",
        "key_material",
    }
)

_ESTATE_LOCK = 0x45535441  # "ESTA": one apply at a time on PostgreSQL


@dataclass(frozen=True)
class EstateProblem:
    """One validation problem, located in the file (1-based line and column)."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}:{self.column}: {where}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
        }


class EstateInvalid(ValidationError):
    """The file is invalid; ``problems`` lists each one. Nothing was changed."""

    code = "estate_invalid"

    def __init__(self, source: str, problems: list[EstateProblem]) -> None:
        self.problems = problems
        first = str(problems[0]) if problems else source
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(f"{first}{more}", errors=[p.to_dict() for p in problems], code=self.code)


class Metadata(BaseModel):
    """Optional ``metadata:`` block — documentation only, not stored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: StrictStr = ""
    description: StrictStr = ""
    labels: dict[StrictStr, StrictStr] = Field(default_factory=dict)


@dataclass(frozen=True)
class Estate:
    """A validated ``ringfence.yaml``: the items of each section the file declares."""

    source: str
    sections: dict[str, list[BaseModel]]
    metadata: Metadata
    positions: Positions = field(repr=False)

    def count(self, key: str) -> int:
        return len(self.sections.get(key, ()))


# --- validation -----------------------------------------------------------------------------


class _Collector:
    def __init__(self, source: str, positions: Positions, names: dict[tuple[str, int], str]):
        self.source = source
        self.positions = positions
        self.names = names
        self.problems: list[EstateProblem] = []
        self._seen: set[tuple[int, int, str]] = set()

    def add(self, path: Sequence[str | int], message: str, *, key: bool = False) -> None:
        resolved = self.positions.resolve(path)
        line, col = self.positions.at(resolved, key=key)
        if (line, col, message) in self._seen:
            return
        self._seen.add((line, col, message))
        self.problems.append(
            EstateProblem(self.source, line, col, self._describe(resolved), message)
        )

    def _describe(self, path: Sequence[str | int]) -> str:
        out = ""
        for i, seg in enumerate(path):
            if isinstance(seg, int):
                out += f"[{seg}]"
                if i == 1:
                    name = self.names.get((str(path[0]), seg))
                    if name:
                        out += f" ({shown(name)})"
            else:
                out += f".{shown(seg)}" if out else shown(seg)
        return out

    def sorted(self) -> list[EstateProblem]:
        return sorted(self.problems, key=lambda p: (p.line, p.column))


_SHOWN_MAX = 80


def shown(text: str) -> str:
    """``text`` (a name or key from the file) as it may appear in a message: characters that
    are not printable are escaped (an ESC sequence in a name would otherwise reach the
    operator's terminal or CI log as is: clear the screen, rewrite a line) and it is cut to
    80 characters."""
    if len(text) > _SHOWN_MAX:
        text = text[:_SHOWN_MAX] + "…"
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def _unstorable_text(value: Any, path: tuple[str | int, ...], out: _Collector) -> None:
    """Report every string (value or key) no store can hold: a NUL character (PostgreSQL
    refuses it in text and JSON; before, apply failed there with a raw DataError) or a lone
    surrogate (not Unicode; it cannot be encoded to UTF-8)."""

    def problem(text: str) -> str | None:
        if "\x00" in text:
            return "contains a NUL character (U+0000), which cannot be stored"
        if any("\ud800" <= c <= "\udfff" for c in text):
            return "contains a lone surrogate (not valid Unicode text)"
        return None

    if isinstance(value, dict):
        for k, v in value.items():
            why = problem(k)
            if why is not None:
                out.add((*path, k), f"key {why}", key=True)
            _unstorable_text(v, (*path, k), out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _unstorable_text(v, (*path, i), out)
    elif isinstance(value, str):
        why = problem(value)
        if why is not None:
            out.add(path, why)


def _submodel(annotation: Any) -> type[BaseModel] | None:
    """The item model nested in a field's annotation (``X``, ``X | None``, ``list[X]``...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _submodel(arg)
        if found is not None:
            return found
    return None


def _secret_scan(
    value: Any, path: tuple[str | int, ...], out: _Collector, model: type[BaseModel] | None
) -> set[tuple[Any, ...]]:
    """Find inline secrets anywhere in an item; return the paths reported.

    A field named like a secret is refused unless the item model declares it (a section may
    have a legitimately named ``value`` field; its content is still scanned)."""
    hits: set[tuple[Any, ...]] = set()
    if isinstance(value, dict):
        fields = model.model_fields if model is not None else {}
        for k, v in value.items():
            child = (*path, k)
            lowered = k.lower()
            declared = fields.get(k)
            if declared is None and lowered in SECRET_FIELD_NAMES and v not in (None, ""):
                out.add(
                    child,
                    f"inline secret in field {k!r} is not allowed; give a reference in `ref:` "
                    f"instead: {HOW_TO_REFERENCE}",
                    key=True,
                )
                hits.add(child)
            elif (lowered == "ref" or lowered.endswith("_ref")) and isinstance(v, str):
                problem = reference_problem(v)
                if problem is not None:
                    out.add(child, f"{k!r} {problem}")
                    hits.add(child)
            else:
                sub = _submodel(declared.annotation) if declared is not None else None
                hits |= _secret_scan(v, child, out, sub)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            hits |= _secret_scan(v, (*path, i), out, model)
    elif isinstance(value, str) and redact_value(value) != value:
        out.add(path, f"value looks like an inline secret (token/key format): {HOW_TO_REFERENCE}")
        hits.add(path)
    return hits


def _pydantic_message(err: Mapping[str, Any], allowed: Iterable[str]) -> tuple[str, bool]:
    """(message, located at the key?) for one pydantic error, never quoting the input."""
    kind = err["type"]
    loc = err["loc"]
    last = str(loc[-1]) if loc else ""
    if kind == "extra_forbidden":
        return f"unknown field {shown(last)!r} (allowed: {', '.join(sorted(allowed))})", True
    if kind == "missing":
        return f"missing required field {last!r}", False
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    return msg, False


def _validate_section(
    section: EstateSection[Any], raw: Any, out: _Collector
) -> list[BaseModel] | None:
    key = section.key
    if not isinstance(raw, list):
        what = "nothing" if raw is None else type(raw).__name__
        out.add(
            (key,),
            f"must be a list of {section.entity_type} entries, got {what} "
            f"(write `{key}: []` to declare none)",
        )
        return None
    items: list[BaseModel] = []
    ok = True
    allowed = list(section.model.model_fields)
    for i, entry in enumerate(raw):
        path = (key, i)
        if not isinstance(entry, dict):
            out.add(path, f"each entry must be a mapping of fields, got {type(entry).__name__}")
            ok = False
            continue
        reported = _secret_scan(entry, path, out, section.model)
        try:
            items.append(section.model.model_validate(entry))
        except PydanticValidationError as exc:
            ok = False
            for err in exc.errors(include_input=False, include_url=False):
                epath = (*path, *err["loc"])
                if any(epath[: len(r)] == r for r in reported):
                    continue
                message, at_key = _pydantic_message(err, allowed)
                out.add(epath, message, key=at_key)
        if reported:
            ok = False
    seen: dict[str, int] = {}
    alike: dict[str, tuple[int, str]] = {}  # UTS #39 skeleton -> (entry, name)
    for i, entry in enumerate(raw):
        value = entry.get(section.key_field) if isinstance(entry, dict) else None
        if not isinstance(value, str):
            continue
        name = value.lower() if section.key_field == "email" else value
        if name in seen:
            line, _ = out.positions.at((key, seen[name], section.key_field))
            out.add(
                (key, i, section.key_field),
                f"duplicate {section.key_field} {shown(value)!r}: already declared at line {line}",
            )
            ok = False
            continue
        seen[name] = i
        # Two names that read alike (Cyrillic a for Latin a, I for l, 0 for O) would let a
        # reviewer, an approver or a console user take one for the other. (Not e-mail
        # addresses: those are the identity provider's, and ASCII.)
        if section.key_field == "email":
            continue
        first = alike.setdefault(skeleton(name), (i, value))
        if first[0] != i:
            line, _ = out.positions.at((key, first[0], section.key_field))
            out.add(
                (key, i, section.key_field),
                f"{section.key_field} {value!a} looks like {first[1]!a} declared at line "
                f"{line}: names that read alike are refused (Unicode UTS #39 confusables)",
            )
            ok = False
    return items if ok else None


def _check_references(
    estate_sections: Mapping[str, list[BaseModel]],
    stored: Mapping[str, set[str]] | None,
    out: _Collector,
) -> None:
    sections = {s.key: s for s in registered_sections()}
    view = EstateView(estate_sections, {k: sections[k].key_field for k in estate_sections}, stored)
    for key, items in estate_sections.items():
        check = sections[key].check_references
        if check is None:
            continue
        problems: list[SectionProblem] = check(items, view)
        for p in problems:
            path: tuple[str | int, ...] = (
                (key, p.index) if p.field is None else (key, p.index, p.field)
            )
            out.add(path, p.message)


def parse_estate(text: str, source: str = "<estate>") -> Estate:
    """Validate ``text`` as ``ringfence.yaml``; raise :class:`EstateInvalid` with every
    problem. References to sections the file does not declare are not checked here (they are
    checked against the store by :func:`plan_estate`)."""
    try:
        data, positions = read_yaml(text)
    except SourceError as exc:
        problem = EstateProblem(source, exc.line, exc.column, "", exc.message)
        raise EstateInvalid(source, [problem]) from None
    names: dict[tuple[str, int], str] = {}
    sections = {s.key: s for s in registered_sections()}
    if isinstance(data, dict):
        for key, raw in data.items():
            if key in sections and isinstance(raw, list):
                for i, entry in enumerate(raw):
                    if isinstance(entry, dict):
                        value = entry.get(sections[key].key_field)
                        if isinstance(value, str):
                            names[(key, i)] = value
    out = _Collector(source, positions, names)
    if not isinstance(data, dict):
        out.add(
            (),
            "the file must be a mapping with `apiVersion: ringfence/v1` and sections "
            f"({', '.join(sections)})",
        )
        raise EstateInvalid(source, out.sorted())
    _unstorable_text(data, (), out)
    version = data.get("apiVersion")
    if version is None:
        out.add((), f"missing `apiVersion: {API_VERSION}`")
    elif version != API_VERSION:
        out.add(("apiVersion",), f"unsupported apiVersion (expected {API_VERSION!r})")
    metadata = Metadata()
    if "metadata" in data:
        try:
            metadata = Metadata.model_validate(data["metadata"])
        except PydanticValidationError as exc:
            for err in exc.errors(include_input=False, include_url=False):
                message, at_key = _pydantic_message(err, Metadata.model_fields)
                out.add(("metadata", *err["loc"]), message, key=at_key)
    declared: dict[str, list[BaseModel]] = {}
    for key, raw in data.items():
        if key in RESERVED_KEYS:
            if key == "kind":
                out.add((key,), "`kind` is not used by ringfence/v1; remove it", key=True)
            continue
        section = sections.get(key)
        if section is None:
            out.add(
                (key,),
                f"unknown top-level key {shown(key)!r} (known: apiVersion, metadata, "
                f"{', '.join(sections)})",
                key=True,
            )
            continue
        items = _validate_section(section, raw, out)
        if items is not None:
            declared[key] = items
    # Reference checks need whole sections; a section with errors is reported above and
    # left out here (its names are then unknown and not held against other sections).
    _check_references(declared, None, out)
    if out.problems:
        raise EstateInvalid(source, out.sorted())
    return Estate(source=source, sections=declared, metadata=metadata, positions=positions)


def load_estate(path: str | Path) -> Estate:
    """Read and validate a ``ringfence.yaml`` file."""
    p = Path(path)
    try:
        # A ringfence.yaml from a pull request may be a symlink to /dev/zero, a FIFO or a
        # huge file: refuse what is not a regular file, and never read past the size limit
        # (before, the whole file was read first — /dev/zero until memory ran out).
        if not stat.S_ISREG(p.stat().st_mode):
            raise ValidationError(
                f"{p}: not a regular file (a directory, device or FIFO cannot be an estate)",
                code="estate_unreadable",
            )
        with p.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            problem = f"file larger than {MAX_BYTES // (1024 * 1024)} MiB"
            raise EstateInvalid(str(p), [EstateProblem(str(p), 1, 1, "", problem)])
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ValidationError(f"{p}: no such file", code="estate_not_found") from None
    except UnicodeDecodeError as exc:
        raise EstateInvalid(
            str(p), [EstateProblem(str(p), 1, 1, "", f"not UTF-8 text (byte {exc.start})")]
        ) from None
    except OSError as exc:
        raise ValidationError(
            f"{p}: cannot read: {exc.strerror}", code="estate_unreadable"
        ) from None
    return parse_estate(text, str(p))


# --- plan -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Change:
    section: str
    entity_type: str
    action: Literal["create", "update", "delete"]
    name: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    fields: tuple[FieldChange, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "kind": self.entity_type,
            "action": self.action,
            "name": self.name,
            "fields": [
                {"field": f.field, "before": f.before, "after": f.after} for f in self.fields
            ],
            "before": self.before,
            "after": self.after,
        }


@dataclass(frozen=True)
class Plan:
    source: str
    changes: tuple[Change, ...]
    managed: tuple[str, ...]
    unmanaged: tuple[str, ...]
    # References to vault secrets that do not exist (the file is valid, what it declares
    # does not work yet), and the subset this plan introduces: apply refuses those unless
    # allowed (``allow_missing_secrets``).
    warnings: tuple[EstateProblem, ...] = ()
    introduced_gaps: tuple[EstateProblem, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.changes

    def counts(self) -> dict[str, int]:
        out = {"create": 0, "update": 0, "delete": 0}
        for c in self.changes:
            out[c.action] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "summary": self.counts(),
            "managed_sections": list(self.managed),
            "unmanaged_sections": list(self.unmanaged),
            "changes": [c.to_dict() for c in self.changes],
            "warnings": [
                {**w.to_dict(), "refused_by_apply": w in self.introduced_gaps}
                for w in self.warnings
            ],
        }


def _jsonish(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonish(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonish(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def canonical(section: EstateSection[Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """Normalise stored field values through the section's model so both sides compare."""
    try:
        return dict(section.model.model_validate(dict(data)).model_dump(mode="json"))
    except PydanticValidationError:
        # The store may hold what the file format would refuse (made through the API):
        # compare it as is, so the plan shows the change instead of failing.
        return dict(_jsonish(data))


def _current(session: Session, section: EstateSection[Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, data in section.load_current(session).items():
        item = canonical(section, data)
        # Key by the normalised key (e-mail addresses are lower-cased by the model).
        out[str(item.get(section.key_field, name))] = item
    return out


def _diff(
    section: EstateSection[Any], before: dict[str, Any], desired: dict[str, Any]
) -> tuple[dict[str, Any], tuple[FieldChange, ...]]:
    after = dict(before)
    changes: list[FieldChange] = []
    for name in desired:
        want = desired[name]
        if want is None and name in section.keep_when_unset:
            continue
        after[name] = want
        if before.get(name) != want:
            changes.append(FieldChange(name, before.get(name), want))
    return after, tuple(changes)


def _stored_names(session: Session, estate: Estate) -> dict[str, set[str]]:
    return {
        s.key: set(_current(session, s))
        for s in registered_sections()
        if s.key not in estate.sections
    }


def plan_estate(session: Session, estate: Estate) -> Plan:
    """What applying ``estate`` would change, without changing anything."""
    names = {
        (k, i): str(getattr(item, s.key_field))
        for s in registered_sections()
        for k in [s.key]
        for i, item in enumerate(estate.sections.get(k, ()))
    }
    out = _Collector(estate.source, estate.positions, names)
    _check_references(estate.sections, _stored_names(session, estate), out)
    if out.problems:
        raise EstateInvalid(estate.source, out.sorted())
    changes: list[Change] = []
    managed: list[str] = []
    unmanaged: list[str] = []
    for section in registered_sections():
        if section.key not in estate.sections:
            unmanaged.append(section.key)
            continue
        managed.append(section.key)
        current = _current(session, section)
        desired = {
            str(getattr(item, section.key_field)): item.model_dump(mode="json")
            for item in estate.sections[section.key]
        }
        for name, want in desired.items():
            if name not in current:
                created = {
                    k: (section.keep_when_unset.get(k) if v is None else v)
                    if k in section.keep_when_unset
                    else v
                    for k, v in want.items()
                }
                changes.append(
                    Change(section.key, section.entity_type, "create", name, None, created)
                )
                continue
            after, fields = _diff(section, current[name], want)
            if fields:
                changes.append(
                    Change(
                        section.key,
                        section.entity_type,
                        "update",
                        name,
                        current[name],
                        after,
                        fields,
                    )
                )
        for name in sorted(set(current) - set(desired)):
            changes.append(
                Change(section.key, section.entity_type, "delete", name, current[name], None)
            )
    index = {(k, name): i for (k, i), name in names.items()}
    for check in plan_checks():
        for key, name, field_name, message in check(session, changes):
            at = index.get((key, name))
            out.add((key, at, field_name) if at is not None else (key,), message)
    if out.problems:
        raise EstateInvalid(estate.source, out.sorted())
    warnings, introduced = _secret_gaps(session, estate, names, changes)
    return Plan(
        estate.source, tuple(changes), tuple(managed), tuple(unmanaged), warnings, introduced
    )


def _secret_gaps(
    session: Session,
    estate: Estate,
    names: dict[tuple[str, int], str],
    changes: Sequence[Change],
) -> tuple[tuple[EstateProblem, ...], tuple[EstateProblem, ...]]:
    """The file's references to vault secrets that do not exist, located like problems."""
    changed: dict[tuple[str, str], frozenset[str] | None] = {
        (c.section, c.name): None if c.action == "create" else frozenset(f.field for f in c.fields)
        for c in changes
        if c.action != "delete"
    }
    key_fields = {s.key: s.key_field for s in registered_sections()}
    gaps = find_secret_gaps(session, estate.sections, key_fields, changed)
    warnings = _Collector(estate.source, estate.positions, names)
    introduced = _Collector(estate.source, estate.positions, names)
    for gap in gaps:
        warnings.add(gap.path, gap.message)
        if gap.introduced:
            introduced.add(gap.path, gap.message)
    return tuple(warnings.sorted()), tuple(introduced.sorted())


class MissingSecrets(EstateInvalid):
    """Apply refused: the plan introduces references to vault secrets that do not exist."""

    code = "missing_secret"


def refuse_missing_secrets(plan: Plan) -> None:
    """Raise :class:`MissingSecrets` when ``plan`` creates or changes a reference to a vault
    secret that does not exist (those it leaves as they were are only warnings)."""
    if plan.introduced_gaps:
        raise MissingSecrets(plan.source, list(plan.introduced_gaps))


# --- apply ----------------------------------------------------------------------------------


def _write(section: EstateSection[Any], session: Session, phase: str, *args: Any) -> None:
    try:
        section.apply(session, *args)
        session.flush()
    except SAIntegrityError as exc:
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise ConflictError(
            f"apply failed while {phase} {section.key}: {detail}; nothing was changed"
        ) from None


def apply_estate(
    store: Store,
    estate: Estate,
    *,
    actor: str = "cli",
    clock: Clock | None = None,
    check: Callable[[Plan], None] | None = None,
    allow_missing_secrets: bool = True,
) -> Plan:
    """Reconcile the store with ``estate`` in one transaction; return what was changed.

    ``check`` sees the plan inside that transaction before anything is written and may raise
    to refuse it (e.g. it differs from the plan a reviewer approved). Without
    ``allow_missing_secrets``, a plan that creates or changes a reference to a vault secret
    that does not exist is refused (:class:`MissingSecrets`, nothing changed); the CLI's
    ``apply`` asks for that unless given ``--allow-missing-secrets``."""
    clock = clock or SystemClock()
    ctx = ApplyContext(actor=actor, clock=clock)
    with store.session() as session:
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            session.execute(select(func.pg_advisory_xact_lock(_ESTATE_LOCK)))
        elif dialect == "sqlite":
            # Take the write lock before planning. pysqlite begins a transaction only at the
            # first write, so two applies planned against the same state and both wrote their
            # stale plans (and their checks, e.g. the API's If-Match, passed on a store that
            # was about to move): the result matched neither file.
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
        plan = plan_estate(session, estate)
        if not allow_missing_secrets:
            refuse_missing_secrets(plan)
        elif plan.introduced_gaps:
            _log.warning(
                "estate apply references vault secrets that do not exist",
                actor=actor,
                count=len(plan.introduced_gaps),
                places=[p.path for p in plan.introduced_gaps[:20]],
            )
        if check is not None:
            check(plan)
        if plan.is_empty:
            return plan
        sections = [s for s in registered_sections() if s.key in estate.sections]
        items = {
            s.key: {str(getattr(i, s.key_field)): i for i in estate.sections[s.key]}
            for s in sections
        }
        before_ids = {s.key: dict(s.ids(session)) if s.ids else {} for s in sections}
        for section in sections:
            mine = [c for c in plan.changes if c.section == section.key]
            creates = [items[section.key][c.name] for c in mine if c.action == "create"]
            updates = [items[section.key][c.name] for c in mine if c.action == "update"]
            if creates or updates:
                _write(section, session, "writing", creates, updates, [], ctx)
        after_ids = {s.key: dict(s.ids(session)) if s.ids else {} for s in sections}
        for section in reversed(sections):
            deletes = [
                c.name for c in plan.changes if c.section == section.key and c.action == "delete"
            ]
            if deletes:
                _write(section, session, "deleting from", [], [], deletes, ctx)
        for change in plan.changes:
            ids = before_ids if change.action == "delete" else after_ids
            audit.append(
                session,
                actor=actor,
                action=f"{change.entity_type}.{change.action}",
                entity_type=change.entity_type,
                entity_id=ids[change.section].get(change.name, change.name),
                before=change.before,
                after=change.after,
                clock=clock,
            )
        for hook in after_apply_hooks():
            hook(session, ctx)
    return plan


# --- export ---------------------------------------------------------------------------------


def _scrubbed(value: Any, where: str, redacted: list[str]) -> Any:
    """``value`` without anything that looks like a secret (a token shape, a URL's
    ``user:password@``), each removal noted in ``redacted``. Rows made through the API or an
    import before those refused such values can hold them; export must not write them into
    a file that goes to git."""
    if isinstance(value, str):
        if inline_secret_problem(value) is None:
            return value
        redacted.append(where)
        return redact_value(url_credentials_removed(value))
    if isinstance(value, list):
        return [_scrubbed(v, where, redacted) for v in value]
    if isinstance(value, dict):
        return {k: _scrubbed(v, f"{where}.{k}", redacted) for k, v in value.items()}
    return value


def export_data(session: Session, redacted: list[str] | None = None) -> dict[str, Any]:
    """The store as ``ringfence.yaml`` data: every registered section, sorted by name. Values
    that look like secrets are redacted (their places are appended to ``redacted``); secret
    references (``ref``, ``*_ref``) are kept as they are."""
    redacted = [] if redacted is None else redacted
    data: dict[str, Any] = {"apiVersion": API_VERSION}
    for section in registered_sections():
        entries: list[dict[str, Any]] = []
        current = _current(session, section)
        for name in sorted(current):
            row = current[name]
            try:
                item = section.model.model_validate(row)
                dumped = item.model_dump(mode="json", exclude_defaults=True)
            except PydanticValidationError:
                dumped = dict(row)
            for k, default in section.keep_when_unset.items():
                if dumped.get(k) == default:
                    dumped.pop(k)
            ordered = {section.key_field: dumped.pop(section.key_field, name), **dumped}
            for k, v in ordered.items():
                if k.lower() != "ref" and not k.lower().endswith("_ref"):
                    where = f"{section.key}[{shown(str(name))}].{k}"
                    ordered[k] = _scrubbed(v, where, redacted)
            entries.append(ordered)
        data[section.key] = entries
    return data


def observed_flow_count(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(DataFlow).where(DataFlow.origin == FlowOrigin.OBSERVED)
        )
        or 0
    )


def dump_yaml(data: Mapping[str, Any], header: str = "") -> str:
    yaml = YAML(typ="rt")
    yaml.default_flow_style = False
    yaml.width = 100
    yaml.indent(mapping=2, sequence=4, offset=2)
    buf = StringIO()
    if header:
        buf.write("".join(f"# {line}\n" if line else "#\n" for line in header.splitlines()))
    yaml.dump(dict(data), buf)
    return buf.getvalue()


def export_estate(store: Store) -> str:
    """The whole store as ``ringfence.yaml`` text (credential references only)."""
    redacted: list[str] = []
    with store.session() as session:
        data = export_data(session, redacted)
        observed = observed_flow_count(session)
    header = "ringfence.yaml exported from the store (references only, never secrets)."
    if redacted:
        header += (
            f"\n{len(redacted)} value(s) in the store look like secrets and were redacted here "
            "(a token shape, or a URL's user:password@): "
            + ", ".join(redacted[:20])
            + (" ..." if len(redacted) > 20 else "")
            + ".\nThey sit in the database in plaintext: rotate those secrets, then correct "
            "the values (applying this file replaces them with the redacted text)."
        )
        _log.warning("estate export redacted values that look like secrets", places=len(redacted))
    if observed:
        header += (
            f"\n{observed} observed data flow(s) are not exported: they are discoveries, "
            "not declarations."
        )
    return dump_yaml(data, header)


__all__ = [
    "API_VERSION",
    "SECRET_FIELD_NAMES",
    "Change",
    "Estate",
    "EstateInvalid",
    "EstateProblem",
    "FieldChange",
    "MissingSecrets",
    "Plan",
    "apply_estate",
    "canonical",
    "dump_yaml",
    "export_data",
    "export_estate",
    "load_estate",
    "parse_estate",
    "plan_estate",
    "refuse_missing_secrets",
    "shown",
]
