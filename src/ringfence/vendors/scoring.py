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

from sqlalchemy import or_, select, true
from sqlalchemy.orm import Session

from ringfence.core.clock import Clock
from ringfence.core.errors import ValidationError
from ringfence.core.levels import DataClass
from ringfence.store.models import (
    App,
    DataFlow,
    Integration,
    IntegrationStatus,
    Vendor,
)
from ringfence.vendors.assessments import (
    Schedule,
    ScheduleState,
    assessment_facts,
    schedule_from,
)
from ringfence.vendors.contracts import (
    CLAUSES,
    OpenFinding,
    active_contracts,
    clause_coverage,
    open_findings,
)
from ringfence.vendors.evidence import CertStatus, current_certifications
from ringfence.vendors.models import CertKind, Contract, Severity, Tier, VendorProfile
from ringfence.vendors.profiles import vendor_by_ref

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


@dataclass
class _Footprint:
    """Apps, integrations and flows of the vendors being scored, read in a few queries."""

    apps: dict[str, list[tuple[str, list[str]]]]  # vendor id → [(app id, data classes)]
    integrations: list[tuple[str, str | None, str, list[str], list[str]]]
    flows: list[tuple[str, str, str | None, list[str]]]  # name, destination, integration, classes
    by_app: dict[str, list[tuple[str, str | None, str, list[str], list[str]]]] = field(
        default_factory=dict
    )
    flows_to: dict[str, list[tuple[str, str, str | None, list[str]]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for integ in self.integrations:
            for app_id in {integ[1], integ[2]} - {None}:
                self.by_app.setdefault(str(app_id), []).append(integ)
        for flow in self.flows:
            self.flows_to.setdefault(flow[1], []).append(flow)


def _footprint(session: Session, vendor_ids: list[str] | None) -> _Footprint:
    app_q = select(App.id, App.vendor_id, App.data_classes)
    if vendor_ids is not None:
        app_q = app_q.where(App.vendor_id.in_(vendor_ids))
    apps: dict[str, list[tuple[str, list[str]]]] = {}
    app_ids: list[str] = []
    for aid, vid, classes in session.execute(app_q).tuples():
        apps.setdefault(vid, []).append((aid, list(classes or [])))
        app_ids.append(aid)
    int_q = select(
        Integration.id,
        Integration.source_app_id,
        Integration.destination_app_id,
        Integration.scopes,
        Integration.data_classes,
    ).where(Integration.status != IntegrationStatus.REVOKED)
    flow_q = select(
        DataFlow.name, DataFlow.destination_app_id, DataFlow.integration_id, DataFlow.data_classes
    )
    if vendor_ids is not None:
        int_q = int_q.where(
            or_(Integration.source_app_id.in_(app_ids), Integration.destination_app_id.in_(app_ids))
        )
        flow_q = flow_q.where(DataFlow.destination_app_id.in_(app_ids))
    integrations = [
        (i, src, dst, list(sc or []), list(dc or []))
        for i, src, dst, sc, dc in session.execute(int_q).tuples()
    ]
    # Declared and observed flows both count: what is seen matters as much as what is said.
    flows = [
        (n, dst, integ, list(dc or [])) for n, dst, integ, dc in session.execute(flow_q).tuples()
    ]
    return _Footprint(apps, integrations, flows)


def _exposure(fp: _Footprint, vendor_id: str, tier: Tier) -> Exposure:
    apps = fp.apps.get(vendor_id, [])
    app_ids = {a for a, _ in apps}
    if not app_ids:
        return Exposure(tier=tier)
    carriers: dict[DataClass, set[str]] = {}
    for app_id, classes in apps:
        # What the vendor's app holds counts too: a system of record receives its data at
        # entry, often through no integration at all.
        for c in _classes(classes):
            carriers.setdefault(c, set()).add(f"app:{app_id}")
    seen: set[str] = set()
    mine = []
    for app_id in app_ids:
        for integ in fp.by_app.get(app_id, ()):
            if integ[0] not in seen:
                seen.add(integ[0])
                mine.append(integ)
    for integ_id, _src, dst, _scopes, classes in mine:
        if dst in app_ids:
            for c in _classes(classes):
                carriers.setdefault(c, set()).add(f"integration:{integ_id}")
    for name, _dst, via, classes in (f for a in app_ids for f in fp.flows_to.get(a, ())):
        key = f"integration:{via}" if via else f"flow:{name}"
        for c in _classes(classes):
            carriers.setdefault(c, set()).add(key)
    highest = max(carriers, default=DataClass.PUBLIC)
    keys = carriers.get(highest, set()) if highest > DataClass.PUBLIC else set()
    return Exposure(
        highest_class=highest,
        class_sources=sum(1 for k in keys if k.startswith("integration:")),
        class_flows=sum(1 for k in keys if k.startswith("flow:")),
        class_apps=sum(1 for k in keys if k.startswith("app:")),
        scopes=frozenset(s for i in mine for s in i[3]),
        integrations=len(mine),
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


def _risks(session: Session, clock: Clock, vendors: list[Vendor]) -> list[VendorRisk]:
    """Score ``vendors`` from a fixed number of queries (not a handful per vendor)."""
    if not vendors:
        return []
    now = clock.now()
    today: date = now.date()
    ids: list[str] | None = [v.id for v in vendors] if len(vendors) == 1 else None
    tiers = dict(
        session.execute(
            select(VendorProfile.vendor_id, VendorProfile.tier).where(
                VendorProfile.vendor_id.in_(ids) if ids is not None else true()
            )
        )
        .tuples()
        .all()
    )
    fp = _footprint(session, ids)
    facts = assessment_facts(session, ids)
    certs: dict[str, list[CertStatus]] = {}
    for c in current_certifications(session, today, ids[0] if ids else None):
        certs.setdefault(c.vendor_id, []).append(c)
    cons: dict[str, list[Contract]] = {}
    for contract in active_contracts(session, ids[0] if ids else None, today):
        cons.setdefault(contract.vendor_id, []).append(contract)
    finds: dict[str, list[OpenFinding]] = {}
    for f in open_findings(session, today, ids[0] if ids else None):
        finds.setdefault(f.vendor_id, []).append(f)
    out = []
    for vendor in vendors:
        tier = tiers.get(vendor.id, Tier.MEDIUM)
        exp = _exposure(fp, vendor.id, tier)
        sched = schedule_from(facts.get(vendor.id, []), tier, now)
        vcerts = certs.get(vendor.id, [])
        vcons = cons.get(vendor.id, [])
        clauses = clause_coverage(vcons)
        vfinds = finds.get(vendor.id, [])
        ctl = Controls(
            questionnaire_score=sched.score
            if sched.state in (ScheduleState.CURRENT, ScheduleState.OVERDUE)
            else None,
            assessment_days_overdue=sched.days_overdue,
            certifications=tuple(
                CertFact(c.label, c.kind, c.valid, max(0, -(c.days_left or 0))) for c in vcerts
            ),
            has_contract=bool(vcons),
            clauses=frozenset(clauses),
            findings=tuple(FindingFact(f.severity, f.days_overdue) for f in vfinds),
        )
        result = score(exp, ctl)
        out.append(
            VendorRisk(
                vendor_id=vendor.id,
                vendor=vendor.name,
                tier=tier,
                inherent=result.inherent,
                residual=result.residual,
                rating=result.rating,
                factors=result.factors,
                highest_data_class=exp.highest_class,
                assessment=sched,
                certifications=tuple(vcerts),
                has_contract=bool(vcons),
                has_dpa="dpa" in clauses,
                missing_clauses=tuple(k for k in CLAUSES if k not in clauses),
                open_findings=tuple(vfinds),
            )
        )
    return out


def assess_vendor(session: Session, vendor: Vendor, clock: Clock) -> VendorRisk:
    (risk,) = _risks(session, clock, [vendor])
    return risk


def vendor_risk(session: Session, clock: Clock, vendor: str | None = None) -> list[VendorRisk]:
    """Risk and evidence status of every vendor (or the one named), highest residual first."""
    if vendor is not None:
        found = vendor_by_ref(session, vendor)
        vendors = [found] if found is not None else []
    else:
        vendors = list(session.scalars(select(Vendor).order_by(Vendor.name)))
    out = _risks(session, clock, vendors)
    return sorted(out, key=lambda r: (-r.residual, r.vendor))
