"""Accuracy harness on the seeded synthetic corpus: precision >= 0.98, recall >= 0.95.

Also checks that docs/dlp-accuracy.md is what ``bench/dlp_accuracy.py`` would write now.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ringfence.classify import Classifier
from tests.classify.accuracy_report import (
    DOC_PATH,
    MAIN_SEED,
    MAIN_SIZE,
    SECOND_SEED,
    SECOND_SIZE,
    render,
)
from tests.classify.corpus import PII_TYPES, SECRET_TYPES, Record, Score, corpus, errors, evaluate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def records() -> list[Record]:
    return corpus(MAIN_SIZE, seed=MAIN_SEED)


@pytest.fixture(scope="module")
def scores(classifier: Classifier, records: list[Record]) -> dict[str, Score]:
    return evaluate(classifier.scan, records)


@pytest.fixture(scope="module")
def second(classifier: Classifier) -> tuple[int, dict[str, Score]]:
    recs = corpus(SECOND_SIZE, seed=SECOND_SEED)
    return len(recs), evaluate(classifier.scan, recs)


def test_overall_precision_and_recall_meet_the_targets(
    classifier: Classifier, records: list[Record], scores: dict[str, Score]
) -> None:
    overall = scores["*"]
    if overall.precision < 0.98 or overall.recall < 0.95:
        pytest.fail("\n".join(errors(classifier.scan, records)[:20]))


def test_every_type_is_measured_and_none_is_poor(scores: dict[str, Score]) -> None:
    assert set(PII_TYPES + SECRET_TYPES) <= set(scores)
    weak = {t: round(s.f1, 3) for t, s in scores.items() if s.f1 < 0.9}
    assert not weak


def test_a_second_seed_holds_up_too(second: tuple[int, dict[str, Score]]) -> None:
    overall = second[1]["*"]
    assert overall.precision >= 0.98 and overall.recall >= 0.95


def test_the_committed_accuracy_report_is_current(
    records: list[Record], scores: dict[str, Score], second: tuple[int, dict[str, Score]]
) -> None:
    expected = render(scores, second[1], len(records), second[0])
    committed = (ROOT / DOC_PATH).read_text(encoding="utf-8")
    assert committed == expected, "docs/dlp-accuracy.md is stale: run bench/dlp_accuracy.py"


def test_the_report_shows_a_miss() -> None:
    # The renderer must not hide errors: a type with a false negative shows recall < 1.
    bad = {"*": Score(9, 0, 1), "email_address": Score(9, 0, 1)}
    text = render(bad, bad, 10, 10)
    assert "| `email_address` | confidential | 9 | 0 | 1 | 1.000 | 0.900 | 0.947 |" in text
