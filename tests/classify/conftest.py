from __future__ import annotations

import pytest

from ringfence.classify import Classifier, default_classifier


@pytest.fixture(scope="session")
def classifier() -> Classifier:
    # Compiling the full catalogue takes about a second: build it once per test session.
    return default_classifier()


def types_in(classifier: Classifier, text: str, min_confidence: float = 0.5) -> set[str]:
    return {
        f.type_id for f in classifier.scan_text(text).findings if f.confidence >= min_confidence
    }
