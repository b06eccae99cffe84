"""Custom detectors: RE2 only, examples checked at load, errors name the detector."""

from __future__ import annotations

from typing import Any

import pytest

from ringfence.classify import Classifier, load_custom_detectors
from ringfence.core.errors import ConfigError

GOOD: dict[str, Any] = {
    "id": "acme_employee_id",
    "class": "confidential",
    "pattern": r"\bEMP-\d{6}\b",
    "context": ["employee"],
    "positive": ["employee EMP-123456"],
    "negative": ["EMP-12", "TEMP-123456"],
}


def test_valid_detector_loads_and_scans() -> None:
    dets = load_custom_detectors([GOOD])
    c = Classifier(custom=dets, engine="re2")
    res = c.scan(b'{"staff": "EMP-654321"}', "application/json")
    assert [f.type_id for f in res.findings] == ["acme_employee_id"]
    assert res.findings[0].preview == "***-**4321"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"pattern": "(a"}, "not valid RE2"),
        ({"pattern": r"(a)\1", "positive": ["aa"]}, "not valid RE2"),  # back-reference
        ({"pattern": r"(?=x)x", "positive": ["x"]}, "not valid RE2"),  # look-ahead
        ({"positive": ["nothing"]}, "positive example 0 does not match"),
        ({"negative": ["EMP-999999"]}, "negative example 0 matches"),
        ({"class": "top-secret"}, "unknown data class"),
        ({"id": "Bad Id"}, "id"),
        ({"positive": []}, "positive"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_detector_is_a_config_error_naming_it(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_custom_detectors([{**GOOD, **change}])
    assert message in str(err.value)
    assert "EMP-999999" not in str(err.value)  # examples are never echoed back
    if "id" not in change:
        assert "acme_employee_id" in str(err.value)


def test_duplicate_ids_are_rejected() -> None:
    with pytest.raises(ConfigError):
        load_custom_detectors([GOOD, GOOD])
    with pytest.raises(ConfigError):
        Classifier(custom=load_custom_detectors([{**GOOD, "id": "email_address"}]), engine="re2")


def test_custom_pattern_with_catastrophic_shape_runs_in_linear_time() -> None:
    import time

    dets = load_custom_detectors(
        [{"id": "evil_one", "class": "internal", "pattern": r"(a+)+b", "positive": ["aab"]}]
    )
    c = Classifier(detectors=(), custom=dets, engine="re2")
    start = time.perf_counter()
    c.scan_text("a" * 50_000 + "!")
    assert time.perf_counter() - start < 1.0
