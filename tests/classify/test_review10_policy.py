"""Review 10: a flow policy that cannot decide is refused (fail closed).

Before: ``FlowPolicy(min_confidence=nan)`` (or 1.5) compared false with every finding, so
``decide`` allowed a restricted payload to a public destination; a bare string for
``ignore_types`` was tested as a substring; a misspelt clearance or action failed only later.
"""

from __future__ import annotations

import pytest

from ringfence.classify import (
    Classifier,
    FlowPolicy,
    PolicyAction,
    decide,
)
from ringfence.core.errors import ConfigError
from ringfence.core.levels import DataClass


@pytest.mark.parametrize("conf", [float("nan"), 1.5, -0.1, float("inf"), "0.5", True])
def test_a_min_confidence_that_cannot_decide_is_refused(conf: object) -> None:
    with pytest.raises(ConfigError, match="min_confidence"):
        FlowPolicy(clearance=DataClass.PUBLIC, min_confidence=conf)  # type: ignore[arg-type]


def test_nan_never_allowed_a_restricted_payload(classifier: Classifier) -> None:
    result = classifier.scan_text("SSN 536-90-4399")
    with pytest.raises(ConfigError):
        decide(result, FlowPolicy(clearance=DataClass.PUBLIC, min_confidence=float("nan")))
    assert decide(result, FlowPolicy(clearance=DataClass.PUBLIC)).verdict == "block"


def test_clearance_and_action_are_parsed_or_refused(classifier: Classifier) -> None:
    result = classifier.scan_text("SSN 536-90-4399")
    policy = FlowPolicy(clearance="internal", action="redact")  # type: ignore[arg-type]
    assert policy.clearance is DataClass.INTERNAL and policy.action is PolicyAction.REDACT
    assert decide(result, policy).verdict == "redact"
    with pytest.raises(ConfigError, match="flow policy"):
        FlowPolicy(clearance="secret")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="flow policy"):
        FlowPolicy(clearance=DataClass.PUBLIC, action="drop")  # type: ignore[arg-type]


def test_ignore_types_given_as_one_string_is_one_type(classifier: Classifier) -> None:
    result = classifier.scan_text("SSN 536-90-4399")
    policy = FlowPolicy(
        clearance=DataClass.PUBLIC,
        ignore_types="us_social_security_number_and_more",  # type: ignore[arg-type]
    )
    assert decide(result, policy).verdict == "block"
