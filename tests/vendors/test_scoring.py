"""The risk score: every factor moves the score in its documented direction; explanations."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ringfence.core.clock import FixedClock
from ringfence.core.levels import DataClass
from ringfence.runtime import Runtime
from ringfence.store.models import App, FlowOrigin, Vendor
from ringfence.vendors import contracts, evidence
from ringfence.vendors.contracts import CLAUSES
from ringfence.vendors.models import CertKind, Severity, Tier
from ringfence.vendors.profiles import set_profile
from ringfence.vendors.schemas import CertificationIn, ContractIn, PentestIn, ProfileIn
from ringfence.vendors.scoring import (
    CertFact,
    Controls,
    Exposure,
    FindingFact,
    score,
    vendor_risk,
)
from tests.vendors.conftest import Estate, add_flow, add_integration

FAST = settings(max_examples=60, deadline=None, derandomize=True)

exposures = st.builds(
    Exposure,
    highest_class=st.sampled_from(list(DataClass)),
    class_sources=st.integers(0, 5),
    scopes=st.frozensets(
        st.sampled_from(["read", "contacts.read", "admin", "files.write", "a", "b"])
    ),
    integrations=st.integers(0, 8),
    tier=st.sampled_from(list(Tier)),
)
certs = st.builds(
    CertFact,
    label=st.just("cert"),
    kind=st.sampled_from(list(CertKind)),
    valid=st.booleans(),
    days_expired=st.integers(0, 400),
)
controls = st.builds(
    Controls,
    questionnaire_score=st.one_of(st.none(), st.floats(0, 100)),
    assessment_days_overdue=st.integers(0, 400),
    certifications=st.lists(certs, max_size=3).map(tuple),
    has_contract=st.booleans(),
    clauses=st.frozensets(st.sampled_from(list(CLAUSES))),
    findings=st.lists(
        st.builds(FindingFact, st.sampled_from(list(Severity)), st.integers(0, 60)), max_size=4
    ).map(tuple),
)
TIER_ORDER = [Tier.LOW, Tier.MEDIUM, Tier.HIGH, Tier.CRITICAL]


@FAST
@given(exposures, controls)
def test_scores_stay_in_range_and_factors_add_up(exp: Exposure, ctl: Controls) -> None:
    r = score(exp, ctl)
    assert 0 <= r.inherent <= 100 and 0 <= r.residual <= 100
    inh = sum(f.points for f in r.factors if f.part == "inherent")
    assert r.inherent == min(100, inh)
    assert r.residual == max(
        0, min(100, r.inherent + sum(f.points for f in r.factors if f.part == "residual"))
    )
    assert all(f.sentence for f in r.factors)


@FAST
@given(exposures, controls, st.sampled_from(list(DataClass)))
def test_more_sensitive_data_never_lowers_risk(
    exp: Exposure, ctl: Controls, cls: DataClass
) -> None:
    hi = max(cls, exp.highest_class)
    a, b = score(exp, ctl), score(replace(exp, highest_class=hi), ctl)
    assert b.inherent >= a.inherent and b.residual >= a.residual


@FAST
@given(exposures, controls, st.text(min_size=1, max_size=8))
def test_more_scopes_never_lower_risk(exp: Exposure, ctl: Controls, extra: str) -> None:
    a, b = score(exp, ctl), score(replace(exp, scopes=exp.scopes | {extra}), ctl)
    assert b.inherent >= a.inherent and b.residual >= a.residual


@FAST
@given(exposures, controls)
def test_more_integrations_never_lower_risk(exp: Exposure, ctl: Controls) -> None:
    a, b = score(exp, ctl), score(replace(exp, integrations=exp.integrations + 1), ctl)
    assert b.inherent >= a.inherent


@FAST
@given(exposures, controls)
def test_higher_tier_never_lowers_risk(exp: Exposure, ctl: Controls) -> None:
    up = TIER_ORDER[min(3, TIER_ORDER.index(exp.tier) + 1)]
    a, b = score(exp, ctl), score(replace(exp, tier=up), ctl)
    assert b.inherent >= a.inherent and b.residual >= a.residual


@FAST
@given(exposures, controls, st.floats(0, 100), st.floats(0, 100))
def test_better_questionnaire_never_raises_residual(
    exp: Exposure, ctl: Controls, x: float, y: float
) -> None:
    lo, hi = sorted((x, y))
    a = score(exp, replace(ctl, questionnaire_score=lo))
    b = score(exp, replace(ctl, questionnaire_score=hi))
    never = score(exp, replace(ctl, questionnaire_score=None))
    assert b.residual <= a.residual <= never.residual


@FAST
@given(exposures, controls, certs)
def test_valid_certificate_lowers_and_expired_raises_residual(
    exp: Exposure, ctl: Controls, cert: CertFact
) -> None:
    base = score(exp, ctl).residual
    valid = score(
        exp, replace(ctl, certifications=(*ctl.certifications, replace(cert, valid=True)))
    )
    expired = score(
        exp, replace(ctl, certifications=(*ctl.certifications, replace(cert, valid=False)))
    )
    assert valid.residual <= base <= expired.residual


@FAST
@given(exposures, controls, st.sampled_from(list(CLAUSES)))
def test_each_contract_clause_never_raises_residual(
    exp: Exposure, ctl: Controls, clause: str
) -> None:
    ctl = replace(ctl, has_contract=True)
    a = score(exp, replace(ctl, clauses=ctl.clauses - {clause}))
    b = score(exp, replace(ctl, clauses=ctl.clauses | {clause}))
    assert b.residual <= a.residual
    none = score(exp, replace(ctl, has_contract=False, clauses=frozenset()))
    assert none.residual >= score(exp, replace(ctl, clauses=frozenset())).residual


@FAST
@given(exposures, controls, st.sampled_from(list(Severity)), st.integers(0, 30))
def test_open_findings_never_lower_residual(
    exp: Exposure, ctl: Controls, sev: Severity, late: int
) -> None:
    a = score(exp, ctl)
    b = score(exp, replace(ctl, findings=(*ctl.findings, FindingFact(sev, late))))
    assert b.residual >= a.residual


def test_strict_movement_in_the_middle_of_the_range() -> None:
    exp = Exposure(DataClass.INTERNAL, 1, frozenset({"read"}), 1, Tier.MEDIUM)
    ctl = Controls(questionnaire_score=50.0, has_contract=True, clauses=frozenset({"dpa"}))
    base = score(exp, ctl)
    assert 0 < base.residual < 100
    assert score(replace(exp, highest_class=DataClass.RESTRICTED), ctl).residual > base.residual
    assert score(exp, replace(ctl, questionnaire_score=90.0)).residual < base.residual
    cert = CertFact("SOC 2 Type II", CertKind.SOC2_TYPE2, True)
    assert score(exp, replace(ctl, certifications=(cert,))).residual < base.residual
    assert (
        score(exp, replace(ctl, findings=(FindingFact(Severity.CRITICAL),))).residual
        > base.residual
    )


def test_explanations_read_like_sentences() -> None:
    exp = Exposure(DataClass.RESTRICTED, 3, frozenset(), 0, Tier.LOW)
    ctl = Controls(
        questionnaire_score=80.0,
        certifications=(CertFact("SOC 2 Type II", CertKind.SOC2_TYPE2, False, 41),),
        has_contract=True,
        clauses=frozenset(CLAUSES) - {"dpa"},
    )
    lines = score(exp, ctl).explain()
    assert "restricted data from 3 integrations: +30" in lines
    assert "SOC 2 Type II expired 41 days ago: +18" in lines
    assert "no DPA although it receives restricted data: +10" in lines
    assert "questionnaire score 80/100: -6" in lines


def test_vendor_risk_reads_declared_and_observed_flows_and_evidence(
    runtime: Runtime, estate: Estate, clock: FixedClock
) -> None:
    add_integration(
        runtime, estate, "sync", scopes=["contacts.read", "admin"], classes=["internal"]
    )

    def risk() -> object:
        with runtime.store.session() as s:
            (r,) = vendor_risk(s, clock, "Acme Payroll")
            return r

    r0 = risk()
    assert r0.highest_data_class is DataClass.INTERNAL  # type: ignore[attr-defined]
    add_flow(runtime, estate, "payroll-export", ["confidential"], FlowOrigin.DECLARED)
    r1 = risk()
    assert r1.highest_data_class is DataClass.CONFIDENTIAL  # type: ignore[attr-defined]
    add_flow(runtime, estate, "seen-ssn", ["restricted"], FlowOrigin.OBSERVED)
    r2 = risk()
    assert r2.highest_data_class is DataClass.RESTRICTED  # type: ignore[attr-defined]
    assert r2.inherent > r1.inherent > r0.inherent  # type: ignore[attr-defined]
    assert not r2.has_dpa and not r2.has_contract  # type: ignore[attr-defined]

    today = clock.now().date()
    with runtime.store.session() as s:
        vendor = s.get_one(Vendor, estate.vendor_id)
        set_profile(s, vendor, ProfileIn(tier=Tier.CRITICAL))
        evidence.add_certification(
            s,
            vendor,
            CertificationIn(kind=CertKind.ISO27001, expires_on=today - timedelta(days=41)),
        )
        contracts.add_contract(s, vendor, ContractIn(name="MSA"))
        contracts.add_pentest(
            s,
            vendor,
            PentestIn.model_validate(
                {
                    "name": "pt",
                    "performed_on": today - timedelta(days=60),
                    "findings": [{"id": "1", "title": "RCE", "severity": "critical"}],
                }
            ),
        )
    r3 = risk()
    assert r3.tier is Tier.CRITICAL  # type: ignore[attr-defined]
    assert [c.label for c in r3.expired_certifications] == ["ISO/IEC 27001"]  # type: ignore[attr-defined]
    assert len(r3.open_critical_findings) == 1 and r3.overdue_findings  # type: ignore[attr-defined]
    assert r3.has_contract and "dpa" in r3.missing_clauses  # type: ignore[attr-defined]
    sentences = [str(f) for f in r3.factors]  # type: ignore[attr-defined]
    assert "ISO/IEC 27001 expired 41 days ago: +18" in sentences
    assert any(s.startswith("no DPA although it receives restricted data") for s in sentences)
    assert any(s.startswith("open pentest findings: 1 critical, 1 past due") for s in sentences)


def test_data_an_app_holds_counts_as_exposure(runtime: Runtime, estate: Estate) -> None:
    with runtime.store.session() as s:
        s.get_one(App, estate.app_id).data_classes = ["internal", "restricted"]
    with runtime.store.session() as s:
        (r,) = vendor_risk(s, runtime.clock, "Acme Payroll")
    assert r.highest_data_class is DataClass.RESTRICTED
    assert str(r.factors[0]) == "restricted data held in 1 app: +30"
    add_integration(runtime, estate, "pay", classes=["restricted"])
    with runtime.store.session() as s:
        (r,) = vendor_risk(s, runtime.clock, "Acme Payroll")
    assert str(r.factors[0]) == "restricted data from 1 integration, held in 1 app: +30"
