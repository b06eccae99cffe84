"""Review 10: a custom detector whose examples pass is one the deployed engine reports.

Before, examples were checked only on the RE2 reference engine, as plain text, at confidence 0.
Each case here was accepted and then never reported in traffic: a pattern with ``\\pL`` or a
``.`` over a non-ASCII character (the default engine's Hyperscan prefilter reads bytes), an
anchored pattern (never matches inside a JSON field), a base confidence below the reporting
threshold, and an empty context word (makes "needs context" match everywhere).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ringfence.classify import Classifier, load_custom_detectors
from ringfence.core.errors import ConfigError

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _spec(**kw: Any) -> dict[str, Any]:
    return {"id": "acme_ref", "class": "confidential", **kw}


def _hyperscan() -> bool:
    return Classifier(detectors=(), default_allowlist=False).engine == "hyperscan"


@pytest.mark.parametrize(
    ("pattern", "positive"),
    [(r"\pL{3}\d{4}", "ref Ääb1234"), (r"Z.Z\d{3}", "ref ZéZ123")],
)
def test_an_example_the_default_engine_used_to_miss_is_now_found(
    pattern: str, positive: str
) -> None:
    # Review 10 refused these at load (Hyperscan read them over bytes and missed the example);
    # since session 11 such a pattern is not prefiltered (tests/classify/
    # test_session11_bypasses.py): accepted, and reported on every engine.
    if not _hyperscan():
        pytest.skip("Hyperscan is not installed: the default engine is the RE2 reference")
    (det,) = load_custom_detectors([_spec(pattern=pattern, positive=[positive])])
    c = Classifier(detectors=(), custom=(det,), default_allowlist=False)
    assert "acme_ref" in c.scan(orjson.dumps({"v": positive}), "application/json").types


@pytest.mark.parametrize("pattern", [r"^ACME\d+$", r"ACME\d+$", r"\AACME\d+", r"ACME\d+\z"])
def test_anchors_are_refused_with_a_clear_message(pattern: str) -> None:
    with pytest.raises(ConfigError, match="anchor") as err:
        load_custom_detectors([_spec(pattern=pattern, positive=["ACME12"])])
    assert "ACME12" not in err.value.message


@pytest.mark.parametrize(
    ("pattern", "positive"),
    [
        (r"\bACME[^a-z]\d+\b", "ref ACME-12"),  # ^ negating a class
        (r"\bUSD\$\d+\b", "cost USD$12"),  # an escaped $
        (r"\bACME[$^]\d+\b", "ref ACME$12"),  # ^ and $ inside a class
        (r"\bAC\Q^$\EME\d+\b", "ref AC^$ME12"),  # quoted literal
        (r"\bACME[[:digit:]]{2}\b", "ref ACME12"),
    ],
)
def test_what_only_looks_like_an_anchor_is_accepted(pattern: str, positive: str) -> None:
    (det,) = load_custom_detectors([_spec(pattern=pattern, positive=[positive])])
    assert det.id == "acme_ref"


def test_a_positive_example_must_be_reported_not_just_matched() -> None:
    with pytest.raises(ConfigError, match="positive example 0 does not match"):
        load_custom_detectors(
            [_spec(pattern=r"\bEMP-\d{6}\b", confidence=0.3, positive=["EMP-123456"])]
        )
    # a low base raised by a context word is reported: accepted
    load_custom_detectors(
        [
            _spec(
                pattern=r"\bEMP-\d{6}\b",
                confidence=0.3,
                context=["employee"],
                positive=["employee EMP-123456"],
            )
        ]
    )


@pytest.mark.parametrize("field", ["context", "keys"])
def test_an_empty_context_word_is_refused(field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        load_custom_detectors(
            [
                _spec(
                    pattern=r"\bEMP-\d{6}\b",
                    needs_context=True,
                    positive=["EMP-123456"],
                    **{field: ["--"]},
                )
            ]
        )


def test_an_accepted_detector_reports_its_examples_in_json_on_the_default_engine() -> None:
    spec = _spec(pattern=r"\bEMP-\d{6}\b", context=["employee"], positive=["employee EMP-123456"])
    c = Classifier(custom=load_custom_detectors([spec]))
    body = orjson.dumps({"note": "employee EMP-123456"})
    assert "acme_ref" in c.scan(body, "application/json").types
