"""Clearance policy: payload class vs destination clearance gives allow/block/redact/alert."""

from __future__ import annotations

import pytest

from ringfence.classify import Classifier, DataClass, FlowPolicy, PolicyAction, decide


@pytest.mark.parametrize(
    ("text", "clearance", "action", "verdict"),
    [
        ("card 4556 7375 8689 9855", DataClass.CONFIDENTIAL, PolicyAction.BLOCK, "block"),
        ("card 4556 7375 8689 9855", DataClass.CONFIDENTIAL, PolicyAction.REDACT, "redact"),
        ("card 4556 7375 8689 9855", DataClass.CONFIDENTIAL, PolicyAction.ALERT, "alert"),
        ("card 4556 7375 8689 9855", DataClass.RESTRICTED, PolicyAction.BLOCK, "allow"),
        ("mail jane@acme.io", DataClass.CONFIDENTIAL, PolicyAction.BLOCK, "allow"),
        ("mail jane@acme.io", DataClass.INTERNAL, PolicyAction.BLOCK, "block"),
        ("card 4111 1111 1111 1111", DataClass.PUBLIC, PolicyAction.BLOCK, "allow"),  # test card
        ("hello", DataClass.PUBLIC, PolicyAction.BLOCK, "allow"),
    ],
)
def test_decision(
    classifier: Classifier, text: str, clearance: DataClass, action: PolicyAction, verdict: str
) -> None:
    d = decide(classifier.scan_text(text), FlowPolicy(clearance=clearance, action=action))
    assert d.verdict == verdict


def test_reason_names_types_but_never_values(classifier: Classifier) -> None:
    d = decide(classifier.scan_text("SSN 536-90-4399"), FlowPolicy(clearance=DataClass.INTERNAL))
    assert "us_social_security_number" in d.reason and "536" not in d.reason
    assert d.payload_class is DataClass.RESTRICTED


def test_ignored_types_do_not_violate(classifier: Classifier) -> None:
    pol = FlowPolicy(clearance=DataClass.INTERNAL, ignore_types=frozenset({"email_address"}))
    assert decide(classifier.scan_text("mail jane@acme.io"), pol).verdict == "allow"
