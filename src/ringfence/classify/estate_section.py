"""The ``classify:`` section of ``ringfence.yaml``: custom detectors and allow-listed values.

Each entry is either a **custom detector** (``pattern`` in RE2 syntax, ``class``, optional
``context``/``keys``, and ``positive``/``negative`` examples checked at validation, so a bad
pattern or a failing example is a file:line:column error naming the detector) or an
**allow-list** of known test values (``allow:`` in clear in the file, or ``allow_sha256:``
digests). Allow-listed values are turned into SHA-256 digests of their canonical form while the
file is validated, so the store and ``export`` never hold them in clear. Stored in
``classify_entries`` (:mod:`ringfence.classify.models`); the gateway builds its classifier from
it with :func:`ringfence.classify.classifier_from_store`. Error messages name the entry and the
example index, never an example or a value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import re2
from pydantic import ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from ringfence.classify._catalogue import BUILTIN_DETECTORS
from ringfence.classify._custom import MAX_PATTERN, load_custom_detectors
from ringfence.classify._engine import allow_digest
from ringfence.classify.models import ClassifyEntry
from ringfence.core.errors import ConfigError, RingfenceError
from ringfence.core.levels import DataClass
from ringfence.inventory.sections import (
    ApplyContext,
    EstateSection,
    EstateView,
    SectionItem,
    SectionProblem,
    register_section,
)

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_BUILTIN_IDS = frozenset(d.id for d in BUILTIN_DETECTORS)
_QUIET = re2.Options()
_QUIET.log_errors = False
MAX_ALLOW = 10_000


class ClassifySpec(SectionItem):
    """One ``classify:`` entry: a custom detector (``pattern``) or an allow-list."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True
    )

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{2,63}$")
    description: str = Field(default="", max_length=500)
    # -- a custom detector
    data_class: str | None = Field(default=None, alias="class")  # a DataClass label
    pattern: str | None = Field(default=None, min_length=1, max_length=MAX_PATTERN)
    context: list[str] = Field(default_factory=list, max_length=50)
    keys: list[str] = Field(default_factory=list, max_length=50)
    needs_context: bool = False
    confidence: float = Field(default=0.8, ge=0.0, le=1.0)
    positive: list[str] = Field(default_factory=list, max_length=100)
    negative: list[str] = Field(default_factory=list, max_length=100)
    # -- an allow-list: clear values in the file become digests (``allow`` is always empty
    # after validation, so the store and export only ever see ``allow_sha256``)
    allow: list[str] = Field(default_factory=list, max_length=MAX_ALLOW)
    allow_sha256: list[str] = Field(default_factory=list, max_length=MAX_ALLOW)

    @model_validator(mode="before")
    @classmethod
    def _hash_allowed_values(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or not data.get("allow"):
            return data
        values = data["allow"]
        if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
            raise ValueError("allow must be a list of non-empty strings")
        hashes = data.get("allow_sha256") or []
        if not isinstance(hashes, list):
            raise ValueError("allow_sha256 must be a list of SHA-256 hex digests")
        out = dict(data)
        out["allow"] = []
        out["allow_sha256"] = [*hashes, *(allow_digest(v) for v in values)]
        return out

    @field_validator("data_class", mode="before")
    @classmethod
    def _parse_class(cls, v: Any) -> str | None:
        if v is None:
            return None
        try:
            return DataClass.parse(v).label
        except RingfenceError as e:
            raise ValueError(str(e)) from None

    @field_validator("pattern")
    @classmethod
    def _re2_syntax(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            re2.compile(v, _QUIET)
        except Exception as e:
            raise ValueError(f"pattern is not valid RE2 syntax ({e})") from None
        return v

    @field_validator("allow_sha256")
    @classmethod
    def _digests(cls, v: list[str]) -> list[str]:
        out = sorted({h.strip().lower() for h in v})
        bad = [i for i, h in enumerate(out) if not _HEX64.match(h)]
        if bad:
            raise ValueError("each allow_sha256 entry must be 64 hex digits (a SHA-256 digest)")
        return out

    @field_validator("name")
    @classmethod
    def _not_builtin(cls, v: str) -> str:
        if v in _BUILTIN_IDS:
            raise ValueError(f"{v!r} is a built-in data type id; choose another name")
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> ClassifySpec:
        if self.pattern is not None:
            if self.allow_sha256:
                raise ValueError("an entry is a detector (pattern) or an allow-list, not both")
            if self.data_class is None:
                raise ValueError("a detector needs `class` (public|internal|confidential|...)")
            if not self.positive:
                raise ValueError("a detector needs at least one `positive` example")
        else:
            if not self.allow_sha256:
                raise ValueError(
                    "declare a detector (pattern, class, positive) or an allow-list "
                    "(allow / allow_sha256)"
                )
            detector_only = ("data_class", "context", "keys", "positive", "negative")
            if any(getattr(self, f) for f in detector_only) or self.needs_context:
                raise ValueError("detector fields need a `pattern`; an allow-list has none")
        return self

    @property
    def kind(self) -> str:
        return "detector" if self.pattern is not None else "allow"

    def detector_mapping(self) -> dict[str, Any]:
        """The entry as :func:`load_custom_detectors` takes it."""
        assert self.pattern is not None and self.data_class is not None
        return {
            "id": self.name,
            "name": self.description or None,
            "class": self.data_class,
            "pattern": self.pattern,
            "context": list(self.context),
            "keys": list(self.keys),
            "needs_context": self.needs_context,
            "confidence": self.confidence,
            "positive": list(self.positive),
            "negative": list(self.negative),
        }


def load_classify(session: Session) -> dict[str, dict[str, Any]]:
    return {r.name: dict(r.spec) for r in session.scalars(select(ClassifyEntry))}


def apply_classify(
    session: Session,
    creates: Sequence[ClassifySpec],
    updates: Sequence[ClassifySpec],
    deletes: Sequence[str],
    ctx: ApplyContext,
) -> None:
    now = ctx.clock.now()
    existing = {r.name: r for r in session.scalars(select(ClassifyEntry))}
    for spec in [*creates, *updates]:
        data = spec.model_dump(mode="json", exclude={"allow"})
        row = existing.get(spec.name)
        if row is None:
            session.add(
                ClassifyEntry(
                    name=spec.name, kind=spec.kind, spec=data, created_at=now, updated_at=now
                )
            )
        else:
            row.kind, row.spec, row.updated_at = spec.kind, data, now
    for name in deletes:
        gone = existing.get(name)
        if gone is not None:
            session.delete(gone)


def check_classify(items: Sequence[ClassifySpec], estate: EstateView) -> list[SectionProblem]:
    """Run every detector's examples through a real classifier (RE2, custom detector only)."""
    del estate  # no references to other sections
    problems: list[SectionProblem] = []
    for i, item in enumerate(items):
        if item.pattern is None:
            continue
        try:
            load_custom_detectors([item.detector_mapping()])
        except ConfigError as e:
            problems.append(SectionProblem(i, e.extra.get("field"), e.message))
    return problems


def classify_ids(session: Session) -> Mapping[str, str]:
    return {r.name: r.id for r in session.scalars(select(ClassifyEntry))}


SECTION = register_section(
    EstateSection(
        key="classify",
        model=ClassifySpec,
        load_current=load_classify,
        apply=apply_classify,
        check_references=check_classify,
        order=120,
        entity_type="classify_entry",
        ids=classify_ids,
        description="DLP custom detectors (RE2, checked examples) and allow-listed test values.",
    )
)
