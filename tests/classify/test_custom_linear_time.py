"""Custom detectors (ringfence.yaml) run on linear-time engines only, on every engine path.

Their patterns are RE2 syntax by contract and meet untrusted payloads: a backtracking engine
would let one crafted body cost exponential time (a pattern like ``\\+(\\d+)+x``), read RE2
syntax differently (POSIX classes) or refuse it (``\\Q...\\E``). The prefilter's anchored tier
(found from an anchor byte, checked with Python's ``re``) is for the trusted built-in
patterns only.
"""

from __future__ import annotations

import time

import pytest

from ringfence.classify import Classifier, load_custom_detectors
from ringfence.classify._model import Detector
from ringfence.classify._prefilter import HyperscanPrefilter

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _dets(det_id: str, pattern: str, positive: str) -> tuple[Detector, ...]:
    return load_custom_detectors(
        [
            {
                "id": det_id,
                "class": "confidential",
                "pattern": pattern,
                "positive": [positive],
                "negative": ["nothing here"],
            }
        ]
    )


def _custom(det_id: str, pattern: str, positive: str) -> Classifier:
    return Classifier(custom=_dets(det_id, pattern, positive))


def test_custom_patterns_never_enter_the_anchored_tier() -> None:
    clf = _custom("acme_ref", r"\+(\d+)+x", "ref +12x")
    prefilter = clf._prefilter
    if not isinstance(prefilter, HyperscanPrefilter):
        pytest.skip("Hyperscan is not installed: no anchored tier")
    custom_ids = {len(clf._compiled) - 1}
    anchored = {a[0] for a in prefilter._anchored}
    assert anchored, "the built-in email/phone patterns use the anchored tier"
    assert not anchored & custom_ids


def test_a_nested_quantifier_costs_linear_time_on_a_hostile_body() -> None:
    clf = _custom("acme_ref", r"\+(\d+)+x", "ref +12x")
    # '+1x' opens the gate; then a '+' and digits with no 'x': exponential for a backtracker
    # (≈ 0.2 s at 18 digits, four times per two more: ≈ 13 s at 24, so a regression fails here in
    # bounded time), instant for RE2 / Hyperscan
    body = ("ref +1x, phone +" + "1" * 24 + " end").encode()
    started = time.process_time()
    result = clf.scan(body, "text/plain")
    assert time.process_time() - started < 2.0
    assert "acme_ref" in result.types


@pytest.mark.parametrize(
    ("det_id", "pattern", "positive"),
    [
        ("acme_posix", r"\+[[:digit:]]{6,10}", "call +1234567 now"),
        ("acme_quoted", r"#\QAB\E\d{4}", "id #AB1234"),
        ("acme_named", r"\+(?P<num>\d{6,10})", "call +1234567 now"),
    ],
)
def test_re2_syntax_reads_the_same_on_the_production_engine(
    det_id: str, pattern: str, positive: str
) -> None:
    dets = _dets(det_id, pattern, positive)
    production = Classifier(custom=dets)  # builds (no re.error) on the default engine
    reference = Classifier(custom=dets, engine="re2")
    for text in (positive, f"x {positive} y"):
        assert det_id in reference.scan_text(text).types
        assert det_id in production.scan_text(text).types
