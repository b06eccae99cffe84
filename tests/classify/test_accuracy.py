"""Accuracy harness on the seeded synthetic corpus: precision >= 0.98, recall >= 0.95."""

from __future__ import annotations

import pytest

from ringfence.classify import Classifier
from tests.classify.corpus import PII_TYPES, SECRET_TYPES, Record, Score, corpus, errors, evaluate


@pytest.fixture(scope="module")
def records() -> list[Record]:
    return corpus(400, seed=20261126)


@pytest.fixture(scope="module")
def scores(classifier: Classifier, records: list[Record]) -> dict[str, Score]:
    return evaluate(classifier.scan, records)


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


def test_a_second_seed_holds_up_too(classifier: Classifier) -> None:
    overall = evaluate(classifier.scan, corpus(150, seed=7))["*"]
    assert overall.precision >= 0.98 and overall.recall >= 0.95
