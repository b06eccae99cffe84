"""Tokenised questionnaire links: hashed at rest, single use, expiring, reassessment cadence."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ringfence.core.clock import FixedClock
from ringfence.core.errors import ConflictError, NotFoundError, ValidationError
from ringfence.runtime import Runtime
from ringfence.store.models import Vendor
from ringfence.vendors import assessments as asm
from ringfence.vendors.bank import QUESTIONS_DIR, AnswerType, default_bank, load_bank
from ringfence.vendors.models import Assessment, AssessmentStatus, Tier
from ringfence.vendors.profiles import set_profile
from ringfence.vendors.schemas import ProfileIn
from tests.vendors.conftest import Estate


def good_answers(ids: list[str]) -> dict[str, Any]:
    bank = default_bank()
    out: dict[str, Any] = {}
    for i in ids:
        q = bank.questions[i]
        if q.type is AnswerType.YESNO:
            out[i] = q.expect
        elif q.type is AnswerType.CHOICE:
            out[i] = max(q.options, key=lambda o: q.options[o])
    return out


def _send(runtime: Runtime, estate: Estate, **kw: Any) -> tuple[str, str]:
    with runtime.store.session() as s:
        sent = asm.send(s, s.get_one(Vendor, estate.vendor_id), runtime.clock, **kw)
        return sent.token, sent.assessment.id


def test_link_token_is_stored_only_as_a_hash(runtime: Runtime, estate: Estate) -> None:
    token, aid = _send(runtime, estate)
    assert token.startswith("rf_vq_") and len(token) > 40
    with runtime.store.session() as s:
        row = s.get_one(Assessment, aid)
        assert row.token_hash == asm.hash_token(token)
        assert token not in repr(row.__dict__)


def test_template_defaults_by_tier(runtime: Runtime, estate: Estate) -> None:
    with runtime.store.session() as s:
        vendor = s.get_one(Vendor, estate.vendor_id)
        set_profile(s, vendor, ProfileIn(tier=Tier.CRITICAL))
    _, aid = _send(runtime, estate)
    with runtime.store.session() as s:
        row = s.get_one(Assessment, aid)
        assert row.template == "full" and len(row.question_ids) == len(default_bank().questions)


def test_submission_scores_and_the_link_cannot_be_reused(runtime: Runtime, estate: Estate) -> None:
    token, _aid = _send(runtime, estate, template="lite")
    with runtime.store.session() as s:
        row = asm.open_by_token(s, token, runtime.clock)
        answers = good_answers(list(row.question_ids))
    with runtime.store.session() as s:
        done = asm.submit_by_token(s, token, answers, runtime.clock)
        assert done.status is AssessmentStatus.SUBMITTED
        # Every answer is the best one except the evidence upload, which was left out.
        assert done.score is not None and 95.0 < done.score < 100.0
    with pytest.raises(ConflictError) as exc, runtime.store.session() as s:
        asm.submit_by_token(s, token, answers, runtime.clock)
    assert exc.value.status == 409 and exc.value.code == "link_used"
    with pytest.raises(ConflictError), runtime.store.session() as s:
        asm.open_by_token(s, token, runtime.clock)


def test_expired_link_is_gone(runtime: Runtime, estate: Estate, clock: FixedClock) -> None:
    token, _ = _send(runtime, estate, days=3)
    clock.advance(days=3)
    with pytest.raises(asm.LinkGoneError) as exc, runtime.store.session() as s:
        asm.open_by_token(s, token, clock)
    assert exc.value.status == 410 and "expired" in exc.value.message


def test_revoked_link_is_gone(runtime: Runtime, estate: Estate) -> None:
    token, aid = _send(runtime, estate)
    with runtime.store.session() as s:
        asm.revoke(s, aid)
    with pytest.raises(asm.LinkGoneError) as exc, runtime.store.session() as s:
        asm.open_by_token(s, token, runtime.clock)
    assert exc.value.code == "link_revoked"


@pytest.mark.parametrize("token", ["", "rf_vq_nope", "x" * 500, "rf_vq_" + "a" * 200])
def test_unknown_link_is_not_found(runtime: Runtime, estate: Estate, token: str) -> None:
    with pytest.raises(NotFoundError), runtime.store.session() as s:
        asm.open_by_token(s, token, runtime.clock)


def test_invalid_answers_do_not_consume_the_link(runtime: Runtime, estate: Estate) -> None:
    token, _ = _send(runtime, estate, template="lite")
    with pytest.raises(ValidationError) as exc, runtime.store.session() as s:
        asm.submit_by_token(s, token, {"GRC-01": "perhaps"}, runtime.clock)
    assert any(e["question"] == "GRC-01" for e in exc.value.errors)
    with runtime.store.session() as s:
        assert asm.open_by_token(s, token, runtime.clock).status is AssessmentStatus.SENT


def test_concurrent_second_submission_loses(runtime: Runtime, estate: Estate) -> None:
    token, aid = _send(runtime, estate, template="lite")
    with runtime.store.session() as s:
        ids = list(s.get_one(Assessment, aid).question_ids)
    answers = good_answers(ids)
    with runtime.store.session() as s1:
        stale = asm.open_by_token(s1, token, runtime.clock)
        with runtime.store.session() as s2:
            asm.submit_by_token(s2, token, answers, runtime.clock)
        with pytest.raises(ConflictError):
            asm.record_answers(s1, stale, answers, runtime.clock, source="link")


@pytest.mark.parametrize("days", [0, -1, 91])
def test_link_lifetime_is_bounded(runtime: Runtime, estate: Estate, days: int) -> None:
    with pytest.raises(ValidationError), runtime.store.session() as s:
        asm.send(s, s.get_one(Vendor, estate.vendor_id), runtime.clock, days=days)


def test_schedule_moves_from_none_to_pending_to_current_to_overdue(
    runtime: Runtime, estate: Estate, clock: FixedClock
) -> None:
    def state() -> asm.Schedule:
        with runtime.store.session() as s:
            return asm.schedule(s, estate.vendor_id, Tier.HIGH, clock)

    assert state().state is asm.ScheduleState.NONE
    token, aid = _send(runtime, estate, template="lite")
    assert state().state is asm.ScheduleState.PENDING
    with runtime.store.session() as s:
        ids = list(s.get_one(Assessment, aid).question_ids)
        asm.submit_by_token(s, token, good_answers(ids), clock)
    assert state().state is asm.ScheduleState.CURRENT
    clock.advance(days=asm.REASSESS_DAYS[Tier.HIGH] + 10)
    late = state()
    assert late.state is asm.ScheduleState.OVERDUE and late.days_overdue == 10
    with runtime.store.session() as s:
        assert (s.scalar(select(Assessment.score)) or 0) > 95.0


def test_a_sent_questionnaire_keeps_its_questions_when_the_bank_changes(
    runtime: Runtime, estate: Estate, tmp_path: Path
) -> None:
    _, aid = _send(runtime, estate, template="lite")
    target = tmp_path / "questions"
    shutil.copytree(QUESTIONS_DIR, target)
    path = target / "grc.yaml"
    path.write_text(path.read_text().replace("GRC-01, lite: true", "GRC-01"))
    newer = load_bank(target)
    assert "GRC-01" not in newer.template("lite").question_ids
    with runtime.store.session() as s:
        row = s.get_one(Assessment, aid)
        asked = asm.questions_of(row, newer)
    assert "GRC-01" in [q.id for q in asked] and row.template_version == "2026.1"


def test_link_tokens_have_the_shape_log_redaction_removes(runtime: Runtime, estate: Estate) -> None:
    from ringfence.core.logging import redact_value

    token, _ = _send(runtime, estate)
    assert token not in redact_value(f"GET /vendor-assessments/{token} 200")
