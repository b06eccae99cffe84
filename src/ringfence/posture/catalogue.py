"""The checks catalogue: each check is metadata (id, title, severity, rationale, remediation,
framework mappings) plus one small function over a ``PostureContext``.

Adding a check never touches the engine: decorate a function with ``@check(...)`` in one of
the ``ringfence.posture.checks`` modules. A check yields one ``Failure`` per failing resource
(a sentence a person can act on plus evidence) and never does I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ringfence.posture.context import PostureContext


class Severity(enum.IntEnum):
    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> Severity:
        try:
            return cls[value.strip().upper()]
        except KeyError:
            allowed = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {value!r}; expected one of: {allowed}") from None


@dataclass(frozen=True, slots=True)
class Failure:
    """One failing resource: what it is, what is wrong, and the facts that show it."""

    resource_type: str
    resource_id: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Mappings:
    cis: tuple[str, ...] = ()  # CIS Controls v8 safeguards
    iso27001: tuple[str, ...] = ()  # ISO/IEC 27001:2022 Annex A controls
    soc2: tuple[str, ...] = ()  # SOC 2 Trust Services Criteria (CC)
    nist_csf: tuple[str, ...] = ()  # NIST CSF 2.0 subcategories

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "cis_v8": list(self.cis),
            "iso27001_2022": list(self.iso27001),
            "soc2": list(self.soc2),
            "nist_csf_2": list(self.nist_csf),
        }


@dataclass(frozen=True)
class CheckMeta:
    id: str
    title: str
    area: str
    severity: Severity
    resource_type: str
    rationale: str
    remediation: str
    mappings: Mappings
    references: tuple[str, ...] = ()
    # Context sections that must be present (not None), e.g. ("saas",), ("usage",).
    requires: tuple[str, ...] = ()


CheckFn = Callable[[PostureContext], Iterable[Failure]]


@dataclass(frozen=True)
class Check:
    meta: CheckMeta
    fn: CheckFn

    def missing_inputs(self, ctx: PostureContext) -> list[str]:
        return [name for name in self.meta.requires if getattr(ctx, name) is None]

    def run(self, ctx: PostureContext) -> list[Failure]:
        return list(self.fn(ctx))


_REGISTRY: dict[str, Check] = {}

AREAS: dict[str, Mappings] = {
    "identity": Mappings(
        ("5.3", "6.5"), ("A.5.16", "A.5.18", "A.8.5"), ("CC6.1", "CC6.2"), ("PR.AA-01", "PR.AA-03")
    ),
    "credentials": Mappings(("4.7", "5.2"), ("A.5.17", "A.8.24"), ("CC6.1",), ("PR.AA-01",)),
    "least_privilege": Mappings(("6.8",), ("A.5.15", "A.8.2", "A.8.3"), ("CC6.3",), ("PR.AA-05",)),
    "data": Mappings(
        ("3.2", "3.3", "3.7"),
        ("A.5.12", "A.5.14", "A.8.12"),
        ("CC6.7", "C1.1"),
        ("PR.DS-01", "PR.DS-02"),
    ),
    "api": Mappings(
        ("12.2", "13.10"),
        ("A.8.20", "A.8.21", "A.8.26"),
        ("CC6.6", "CC6.7"),
        ("PR.IR-01", "PR.PS-01"),
    ),
    "shadow_it": Mappings(
        ("2.3", "2.5"), ("A.5.9", "A.5.23"), ("CC6.8", "CC9.2"), ("ID.AM-02", "GV.SC-04")
    ),
    "vendors": Mappings(
        ("15.1", "15.4", "15.5"),
        ("A.5.19", "A.5.20", "A.5.22"),
        ("CC9.2",),
        ("GV.SC-06", "GV.SC-07"),
    ),
    "readiness": Mappings(
        ("17.4", "17.7", "11.5"),
        ("A.5.24", "A.5.26", "A.8.13"),
        ("CC7.4", "CC7.5", "A1.2"),
        ("RS.MA-01", "RC.RP-03"),
    ),
    "monitoring": Mappings(
        ("8.2", "8.11"), ("A.8.15", "A.8.16"), ("CC7.2", "CC7.3"), ("DE.CM-01", "DE.AE-02")
    ),
}


def check(
    *,
    id: str,
    title: str,
    area: str,
    severity: Severity,
    resource: str,
    rationale: str,
    remediation: str,
    requires: tuple[str, ...] = (),
    references: tuple[str, ...] = (),
    mappings: Mappings | None = None,
) -> Callable[[CheckFn], CheckFn]:
    """Register ``fn`` as a check. Mappings default to the area's control families."""
    if area not in AREAS:
        raise ValueError(f"unknown area {area!r}")

    def register(fn: CheckFn) -> CheckFn:
        if id in _REGISTRY:
            raise ValueError(f"duplicate check id {id}")
        meta = CheckMeta(
            id=id,
            title=title,
            area=area,
            severity=severity,
            resource_type=resource,
            rationale=rationale,
            remediation=remediation,
            mappings=mappings or AREAS[area],
            references=references,
            requires=requires,
        )
        _REGISTRY[id] = Check(meta, fn)
        return fn

    return register


def all_checks() -> list[Check]:
    """Every registered check, ordered by id (importing the catalogue modules once)."""
    from ringfence.posture import checks  # noqa: F401  (registers on import)

    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def get_check(check_id: str) -> Check:
    all_checks()
    try:
        return _REGISTRY[check_id]
    except KeyError:
        raise KeyError(f"no check {check_id!r}") from None


def fail(resource_type: str, resource_id: str, message: str, **evidence: Any) -> Failure:
    return Failure(resource_type, resource_id, message, evidence)
