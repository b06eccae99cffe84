"""The vendor risk score: inherent exposure, residual risk after controls, and why.

Pure part: :func:`score` turns an :class:`Exposure` and :class:`Controls` into a
:class:`RiskScore` with a list of :class:`Factor` (points + a sentence). Gathering part:
:func:`vendor_risk` reads the store (apps, integrations, declared AND observed data flows,
certifications, contracts, pentests, assessments) for one or all vendors.

Formula (documented in docs/vendors.md; tests pin the direction of every factor):

inherent = min(100, data + scopes + integrations + tier)
  data          public 0 · internal 8 · confidential 18 · restricted 30: the highest class the
                vendor's apps receive (integrations, declared AND observed flows) or hold
  scopes        2 per distinct granted scope, +5 if any is broad (admin/write/full/*), max 20
  integrations  3 per live integration touching the vendor's apps, max 15
  tier          critical 35 · high 25 · medium 12 · low 0

residual = clamp(inherent + sum of control adjustments, 0, 100)
  questionnaire    never completed +10; otherwise round(10 - 0.2 * score) (-10 .. +10)
  reassessment     overdue: +min(10, 4 + days_overdue // 30)
  certifications   valid SOC 2 Type II / ISO 27001 -8 each, other valid -4 each (total >= -16);
                   expired: +min(25, 10 + days_expired // 5) each
  contract         DPA missing +10 when confidential or restricted data is received (+3
                   otherwise), +2 per other missing clause, -5 when all clauses are present;
                   no active contract counts as a contract with no clause (+24 or +17)
  pentest          open findings: critical +12, high +6, medium +2, low +1; +3 more each when
                   past its remediation due date; total at most +35

rating: residual >= 75 critical, >= 50 high, >= 25 medium, else low.
This module reads only; it never changes a row and never calls ``datetime.now()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ringfence.core.clock import Clock
from ringfence.core.errors import ValidationError
from ringfence.core.levels import DataClass
from ringfence.store.models import (
    App,
    DataFlow,
    FlowOrigin,
    Integration,
    IntegrationStatus,
    Vendor,
)
from ringfence.vendors.assessments import Schedule, ScheduleState, schedule
from ringfence.vendors.contracts import (
    CLAUSES,
    OpenFinding,
    active_contracts,
    clause_coverage,
    open_findings,
)
from ringfence.vendors.evidence import CertStatus, current_certifications
from ringfence.vendors.models import CertKind, Severity, Tier
from ringfence.vendors.profiles import get_profile

DATA_POINTS = {
    DataClass.PUBLIC: 0,
    DataClass.INTERNAL: 8,
    DataClass.CONFIDENTIAL: 18,
    DataClass.RESTRICTED: 30,
}
TIER_POINTS = {Tier.CRITICAL: 35, Tier.HIGH: 25, Tier.MEDIUM: 12, Tier.LOW: 0}
BROAD_SCOPE_MARKERS = ("admin", "write", "full", "*", "manage", "delete", "all")
STRONG_CERTS = (CertKind.SOC2_TYPE2, CertKind.ISO27001)
FINDING_POINTS = {
    Severity.CRITICAL: 12,
    Severity.HIGH: 6,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.INFO: 0,
}
FINDINGS_CAP = 35
CERT_CREDIT_CAP = 16


@dataclass(frozen=True)
class Factor:
    key: str
    part: str  # "inherent" | "residual"
    points: int
    sentence: str

    def __str__(self) -> str:
        sign = "+" if self.points >= 0 else "-"
        return f"{self.sentence}: {sign}{abs(self.points)}"


@dataclass(frozen=True)
class Exposure:
    highest_class: DataClass = DataClass.PUBLIC
    class_sources: int = 0  # integrations carrying the highest class to the vendor's apps
    class_flows: int = 0  # data flows (without an integration) carrying it
    class_apps: int = 0  # vendor apps declaring they hold it
    scopes: frozenset[str] = frozenset()
    integrations: int = 0
    tier: Tier = Tier.MEDIUM


@dataclass(frozen=True)
class CertFact:
    label: str
    kind: CertKind
    valid: bool
    days_expired: int = 0


@dataclass(frozen=True)
class FindingFact:
    severity: Severity
    days_overdue: int = 0


@dataclass(frozen=True)
class Controls:
    questionnaire_score: float | None = None
    assessment_days_overdue: int = 0
    certifications: tuple[CertFact, ...] = ()
    has_contract: bool = False
    clauses: frozenset[str] = frozenset()
    findings: tuple[FindingFact, ...] = ()


@dataclass(frozen=True)
class RiskScore:
    inherent: int
    residual: int
    rating: str
    factors: tuple[Factor, ...]

    def explain(self) -> list[str]:
        return [str(f) for f in self.factors]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def is_broad(scope: str) -> bool:
    low = scope.lower()
    return any(m in low for m in BROAD_SCOPE_MARKERS)


def inherent_factors(exp: Exposure) -> list[Factor]:
    out = []
    cls = exp.highest_class
    origins = [
        _plural(n, word)
        for n, word in ((exp.class_sources, "integration"), (exp.class_flows, "data flow"))
        if n
    ]
    src = f" from {' and '.join(origins)}" if origins else ""
    if exp.class_apps:
        src += f"{',' if src else ''} held in {_plural(exp.class_apps, 'app')}"
    out.append(Factor("data_class", "inherent", DATA_POINTS[cls], f"{cls.label} data{src}"))
    if exp.scopes:
        broad = sorted(s for s in exp.scopes if is_broad(s))
        pts = min(20, 2 * len(exp.scopes) + (5 if broad else 0))
        extra = f", broad: {', '.join(broad[:3])}" if broad else ""
        out.append(
            Factor("scopes", "inherent", pts, f"{_plural(len(exp.scopes), 'granted scope')}{extra}")
        )
    if exp.integrations:
        out.append(
            Factor(
                "integrations",
                "inherent",
                min(15, 3 * exp.integrations),
                f"{_plural(exp.integrations, 'live integration')}",
            )
        )
    out.append(Factor("tier", "inherent", TIER_POINTS[exp.tier], f"{exp.tier.value} tier"))
    return out


def control_factors(ctl: Controls, exp: Exposure) -> list[Factor]:
    out: list[Factor] = []
    if ctl.questionnaire_score is None:
        out.append(Factor("questionnaire", "residual", 10, "no completed questionnaire"))
    else:
        s = max(0.0, min(100.0, ctl.questionnaire_score))
        out.append(
            Factor(
                "questionnaire",
                "residual",
                round(10 - 0.2 * s),
                f"questionnaire score {s:g}/100",
            )
        )
    if ctl.assessment_days_overdue > 0:
        d = ctl.assessment_days_overdue
        out.append(
            Factor(
                "reassessment",
                "residual",
                min(10, 4 + d // 30),
                f"reassessment overdue by {_plural(d, 'day')}",
            )
        )
    credit = 0
    for cert in ctl.certifications:
        if cert.valid:
            pts = 8 if cert.kind in STRONG_CERTS else 4
            pts = min(pts, CERT_CREDIT_CAP - credit)
            credit += pts
            out.append(Factor("certification", "residual", -pts, f"{cert.label} valid"))
        else:
            d = cert.days_expired
            out.append(
                Factor(
                    "certification",
                    "residual",
                    min(25, 10 + d // 5),
                    f"{cert.label} expired {_plural(d, 'day')} ago",
                )
            )
    sensitive = exp.highest_class >= DataClass.CONFIDENTIAL
    dpa_points = 10 if sensitive else 3
    if not ctl.has_contract:
        # No contract is as bad as a contract without a single clause, never better.
        pts = dpa_points + 2 * (len(CLAUSES) - 1)
        why = f", although it receives {exp.highest_class.label} data" if sensitive else ""
        out.append(Factor("contract", "residual", pts, f"no active contract on file{why}"))
    else:
        if "dpa" not in ctl.clauses:
            why = f" although it receives {exp.highest_class.label} data" if sensitive else ""
            out.append(Factor("dpa", "residual", dpa_points, f"no DPA{why}"))
        missing = [k for k in CLAUSES if k != "dpa" and k not in ctl.clauses]
        if missing:
            names = ", ".join(CLAUSES[k] for k in missing)
            out.append(
                Factor(
                    "clauses",
                    "residual",
                    2 * len(missing),
                    f"{_plural(len(missing), 'contract clause')} missing ({names})",
                )
            )
        if "dpa" in ctl.clauses and not missing:
            out.append(Factor("clauses", "residual", -5, "every contract clause present"))
    if ctl.findings:
        raw = sum(
            FINDING_POINTS[f.severity] + (3 if f.days_overdue > 0 else 0) for f in ctl.findings
        )
        by_sev: dict[Severity, int] = {}
        for f in ctl.findings:
            by_sev[f.severity] = by_sev.get(f.severity, 0) + 1
        late = sum(1 for f in ctl.findings if f.days_overdue > 0)
        parts = ", ".join(f"{n} {s.value}" for s, n in by_sev.items())
        overdue = f", {late} past due" if late else ""
        pts = min(FINDINGS_CAP, raw)
        if pts:
            out.append(
                Factor(
                    "pentest",
                    "residual",
                    pts,
                    f"open pentest findings: {parts}{overdue}",
                )
            )
    return out


def rating(residual: int) -> str:
    if residual >= 75:
        return "critical"
    if residual >= 50:
        return "high"
    if residual >= 25:
        return "medium"
    return "low"


def score(exp: Exposure, ctl: Controls) -> RiskScore:
    inh = inherent_factors(exp)
    res = control_factors(ctl, exp)
    inherent = min(100, sum(f.points for f in inh))
    residual = max(0, min(100, inherent + sum(f.points for f in res)))
    return RiskScore(inherent, residual, rating(residual), tuple(inh + res))


# -- gathering from the store --------------------------------------------------------------


def _classes(values: list[str]) -> list[DataClass]:
    out = []
    for v in values or []:
        try:
            out.append(DataClass.parse(v))
        except ValidationError:
            continue  # a data *type* label, not a class: not ours to judge here
    return out


def exposure(session: Session, vendor: Vendor, tier: Tier) -> Exposure:
    apps = session.scalars(select(App).where(App.vendor_id == vendor.id)).all()
    app_ids = [a.id for a in apps]
    if not app_ids:
        return Exposure(tier=tier)
    integrations = session.scalars(
        select(Integration).where(
            or_(
                Integration.source_app_id.in_(app_ids), Integration.destination_app_id.in_(app_ids)
            ),
            Integration.status != IntegrationStatus.REVOKED,
        )
    ).all()
    carriers: dict[DataClass, set[str]] = {}
    for app in apps:
        # What the vendor's app holds counts too: a system of record receives its data at
        # entry, often through no integration at all.
        for c in _classes(app.data_classes):
            carriers.setdefault(c, set()).add(f"app:{app.id}")
    for integ in integrations:
        if integ.destination_app_id in app_ids:
            for c in _classes(integ.data_classes):
                carriers.setdefault(c, set()).add(f"integration:{integ.id}")
    flows = session.scalars(select(DataFlow).where(DataFlow.destination_app_id.in_(app_ids)))
    for flow in flows:
        # Declared and observed flows both count: what is seen matters as much as what is said.
        assert flow.origin in (FlowOrigin.DECLARED, FlowOrigin.OBSERVED)
        key = f"integration:{flow.integration_id}" if flow.integration_id else f"flow:{flow.name}"
        for c in _classes(flow.data_classes):
            carriers.setdefault(c, set()).add(key)
    highest = max(carriers, default=DataClass.PUBLIC)
    keys = carriers.get(highest, set()) if highest > DataClass.PUBLIC else set()
    scopes = frozenset(s for i in integrations for s in (i.scopes or []))
    return Exposure(
        highest_class=highest,
        class_sources=sum(1 for k in keys if k.startswith("integration:")),
        class_flows=sum(1 for k in keys if k.startswith("flow:")),
        class_apps=sum(1 for k in keys if k.startswith("app:")),
        scopes=scopes,
        integrations=len(integrations),
        tier=tier,
    )


@dataclass(frozen=True)
class VendorRisk:
    """Per-vendor risk and evidence status: what posture checks and the console read."""

    vendor_id: str
    vendor: str
    tier: Tier
    inherent: int
    residual: int
    rating: str
    factors: tuple[Factor, ...]
    highest_data_class: DataClass
    assessment: Schedule
    certifications: tuple[CertStatus, ...]
    has_contract: bool
    has_dpa: bool
    missing_clauses: tuple[str, ...]
    open_findings: tuple[OpenFinding, ...] = field(default_factory=tuple)

    @property
    def expired_certifications(self) -> list[CertStatus]:
        return [c for c in self.certifications if not c.valid]

    @property
    def overdue_findings(self) -> list[OpenFinding]:
        return [f for f in self.open_findings if f.overdue]

    @property
    def open_critical_findings(self) -> list[OpenFinding]:
        return [f for f in self.open_findings if f.severity is Severity.CRITICAL]


def assess_vendor(session: Session, vendor: Vendor, clock: Clock) -> VendorRisk:
    today: date = clock.now().date()
    profile = get_profile(session, vendor.id)
    tier = profile.tier if profile else Tier.MEDIUM
    exp = exposure(session, vendor, tier)
    sched = schedule(session, vendor.id, tier, clock)
    certs = current_certifications(session, today, vendor.id)
    contracts = active_contracts(session, vendor.id, today)
    clauses = clause_coverage(contracts)
    findings = open_findings(session, today, vendor.id)
    ctl = Controls(
        questionnaire_score=sched.score
        if sched.state in (ScheduleState.CURRENT, ScheduleState.OVERDUE)
        else None,
        assessment_days_overdue=sched.days_overdue,
        certifications=tuple(
            CertFact(c.label, c.kind, c.valid, max(0, -(c.days_left or 0))) for c in certs
        ),
        has_contract=bool(contracts),
        clauses=frozenset(clauses),
        findings=tuple(FindingFact(f.severity, f.days_overdue) for f in findings),
    )
    result = score(exp, ctl)
    return VendorRisk(
        vendor_id=vendor.id,
        vendor=vendor.name,
        tier=tier,
        inherent=result.inherent,
        residual=result.residual,
        rating=result.rating,
        factors=result.factors,
        highest_data_class=exp.highest_class,
        assessment=sched,
        certifications=tuple(certs),
        has_contract=bool(contracts),
        has_dpa="dpa" in clauses,
        missing_clauses=tuple(k for k in CLAUSES if k not in clauses),
        open_findings=tuple(findings),
    )


def vendor_risk(session: Session, clock: Clock, vendor: str | None = None) -> list[VendorRisk]:
    """Risk and evidence status of every vendor (or the one named), highest residual first."""
    query = select(Vendor).order_by(Vendor.name)
    if vendor is not None:
        query = query.where(or_(Vendor.name == vendor, Vendor.id == vendor))
    out = [assess_vendor(session, v, clock) for v in session.scalars(query)]
    return sorted(out, key=lambda r: (-r.residual, r.vendor))
