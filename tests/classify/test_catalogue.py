"""The catalogue: counts, stable ids, engines agree, every example is detected."""

from __future__ import annotations

import re

import pytest

from ringfence.classify import BUILTIN_DETECTORS, Classifier, catalogue
from ringfence.classify._prefilter import Re2SetPrefilter


def test_catalogue_has_at_least_40_personal_and_60_secret_types() -> None:
    secrets = [d for d in BUILTIN_DETECTORS if d.category == "secret"]
    others = [d for d in BUILTIN_DETECTORS if d.category != "secret"]
    assert len(others) >= 40
    assert len(secrets) >= 60


def test_ids_are_unique_snake_case_and_documented() -> None:
    ids = [d.id for d in BUILTIN_DETECTORS]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]+", i) for i in ids)
    rows = catalogue()
    assert {r["id"] for r in rows} == set(ids)
    assert all(d.example and d.name for d in BUILTIN_DETECTORS)


@pytest.mark.parametrize("det", BUILTIN_DETECTORS, ids=lambda d: d.id)
def test_pattern_compiles_in_every_engine(det: object) -> None:
    import re2

    from ringfence.classify import Detector

    assert isinstance(det, Detector)
    re.compile(det.pattern, re.ASCII)
    re2.compile(det.pattern.replace("(?P<v>", "("))


def test_hyperscan_and_re2_prefilters_agree_on_examples(classifier: Classifier) -> None:
    pats = [(d.prefilter or d.pattern, d.caseless, True) for d in BUILTIN_DETECTORS]
    hs = classifier._prefilter
    rs = Re2SetPrefilter(pats)
    for i, d in enumerate(BUILTIN_DETECTORS):
        data = d.example.encode()
        assert i in rs.candidates(data), d.id
        if not d.needs_context:  # context-gated slots hold the context words instead
            assert i in hs.candidates(data), d.id


def test_re2_engine_gives_the_same_findings(classifier: Classifier) -> None:
    text = (
        "SSN 536-90-4399, card 4556 7375 8689 9855, ghp_" + "Zq8vL2mN4pR7tY1wX5cB9dE3aF6gH0jK2mN4"
    )
    other = Classifier(engine="re2")
    assert other.engine == "re2-set"
    assert classifier.scan_text(text) == other.scan_text(text)
