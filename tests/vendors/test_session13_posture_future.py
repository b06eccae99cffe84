"""Session 13 (lead, from the vendors review): a questionnaire dated in the future does not
silence posture's RF-VND-001 ("vendor not assessed in 12 months")."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from ringfence.core.clock import FixedClock
from ringfence.posture.checks.vendors.vnd_001_no_recent_assessment import no_recent_assessment
from ringfence.posture.loader import load_context
from ringfence.runtime import Runtime
from ringfence.vendors.models import Assessment, AssessmentStatus
from tests.vendors.conftest import Estate, add_integration


def _findings(runtime: Runtime, now: datetime) -> list[str]:
    with runtime.store.session() as s:
        ctx = load_context(s, now)
    # the estate's other vendor (the customer's own CRM) is never assessed: not this test's
    return [f.message for f in no_recent_assessment(ctx) if "customer" not in f.message]


@pytest.mark.parametrize(
    ("offset_days", "expected"),
    [
        (365 * 4, "vendor Acme Payroll last assessed never"),  # in 2030: not an assessment yet
        (1, "vendor Acme Payroll last assessed never"),
        (-30, None),  # a month ago: current
        (-400, "vendor Acme Payroll last assessed 400 days ago"),
    ],
)
def test_only_a_completed_questionnaire_in_the_past_counts(
    runtime: Runtime, clock: FixedClock, estate: Estate, offset_days: int, expected: str | None
) -> None:
    add_integration(runtime, estate, "payroll-sync")
    now = clock.now()
    when = now + timedelta(days=offset_days)
    with runtime.store.session() as s:
        s.add(
            Assessment(
                vendor_id=estate.vendor_id,
                template="full",
                template_version="2026.1",
                status=AssessmentStatus.SUBMITTED,
                sent_at=when,
                expires_at=when + timedelta(days=30),
                submitted_at=when,
                score=100.0,
                source="estate",
            )
        )
    assert _findings(runtime, now) == ([expected] if expected else [])
