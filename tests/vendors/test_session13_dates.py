"""Session 13 review (medium): vendor-risk dates far in the future, or after today."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ringfence.api import create_app
from ringfence.core.clock import FixedClock
from ringfence.inventory.estate import EstateInvalid, apply_estate, parse_estate
from ringfence.runtime import Runtime
from ringfence.store.apitokens import ApiTokens
from ringfence.store.models import Vendor
from ringfence.vendors import assessments as asm
from ringfence.vendors import service
from ringfence.vendors.bank import AnswerType, default_bank
from ringfence.vendors.models import Assessment, AssessmentStatus
from tests.vendors.conftest import Estate

V = "/api/v1/vendor-risk"
BASE = "apiVersion: ringfence/v1\nvendors:\n  - name: Payroll Co\n"
RECORD = "vendor_risk:\n  - name: Payroll Co\n    assessment: {{completed_on: {day}, score: 100}}\n"


@pytest.fixture
def http(runtime: Runtime, clock: FixedClock, estate: Estate) -> Iterator[TestClient]:
    token = ApiTokens(runtime.store, clock).issue("vendor-admin", ["read", "write"], 30)
    headers = {"Authorization": f"Bearer {token.token.get_secret_value()}"}
    with TestClient(create_app(runtime), raise_server_exceptions=False, headers=headers) as c:
        yield c


# -- dates far in the future -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        (
            "certifications",
            {"kind": "soc2_type2", "period_start": "9999-01-01", "period_end": "9999-12-31"},
            "period_end",
        ),
        (
            "pentests",
            {
                "name": "external",
                "performed_on": "9999-12-31",
                "findings": [{"id": "F-1", "title": "t", "severity": "info"}],
            },
            "performed_on",
        ),
    ],
)
def test_a_date_far_in_the_future_is_refused_naming_the_field(
    http: TestClient, route: str, body: dict[str, object], field: str
) -> None:
    r = http.post(f"{V}/Acme Payroll/{route}", json=body)
    assert r.status_code == 422, r.text
    assert field in r.text and "between 1970-01-01 and 2199-12-31" in r.text


def test_an_estate_completion_in_year_9999_is_a_located_error(runtime: Runtime) -> None:
    text = BASE + RECORD.format(day="9999-12-31")
    with pytest.raises(EstateInvalid) as exc:
        parse_estate(text, "estate.yaml")
    assert "estate.yaml:6:32:" in str(exc.value) and "completed_on" in str(exc.value)


def test_a_stored_completion_in_year_9999_does_not_break_every_score(
    runtime: Runtime, estate: Estate
) -> None:
    # What ringfence.yaml could store before: scoring any vendor raised OverflowError
    # (the vendor-risk list, the console page and every score failed).
    far = datetime(9999, 12, 31, tzinfo=UTC)
    with runtime.store.session() as s:
        s.add(
            Assessment(
                vendor_id=estate.vendor_id,
                template="full",
                template_version="2026.1",
                status=AssessmentStatus.SUBMITTED,
                sent_at=far,
                expires_at=far,
                submitted_at=far,
                score=100.0,
                source="estate",
            )
        )
    risks = {r.vendor: r for r in service.risk(runtime)}
    assert risks["Acme Payroll"].assessment.state is asm.ScheduleState.NONE


def _all_wrong(ids: list[str]) -> dict[str, str]:
    bank = default_bank()
    out: dict[str, str] = {}
    for i in ids:
        q = bank.questions[i]
        if q.type is AnswerType.YESNO:
            out[i] = "no" if q.expect == "yes" else "yes"
        elif q.type is AnswerType.CHOICE:
            out[i] = min(q.options, key=lambda o: q.options[o])
    return out


def test_a_completion_dated_in_the_future_neither_keeps_a_vendor_current_nor_hides_answers(
    runtime: Runtime,
) -> None:
    text = BASE + RECORD.format(day="2030-01-01")
    apply_estate(runtime.store, parse_estate(text, "estate.yaml"), actor="t", clock=runtime.clock)
    (r,) = service.risk(runtime, "Payroll Co")
    assert r.assessment.state is asm.ScheduleState.NONE  # not "current" until 2030 + cadence
    assert any(f.sentence == "no completed questionnaire" for f in r.factors)
    # The vendor's real answers, given today, are what counts — not the 100 dated 2030.
    with runtime.store.session() as s:
        vendor = s.scalars(select(Vendor).where(Vendor.name == "Payroll Co")).one()
        sent = asm.send(s, vendor, runtime.clock, template="lite")
        token, ids = sent.token, list(sent.assessment.question_ids)
    with runtime.store.session() as s:
        asm.submit_by_token(s, token, _all_wrong(ids), runtime.clock)
    (r,) = service.risk(runtime, "Payroll Co")
    assert r.assessment.state is asm.ScheduleState.CURRENT
    assert r.assessment.score is not None and r.assessment.score < 50
