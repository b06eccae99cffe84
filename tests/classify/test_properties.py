"""Property tests: the scanner never raises; redaction and previews never leak a value."""

from __future__ import annotations

import random
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ringfence.classify import Classifier, RedactionMode, RedactionPolicy, redact
from tests.classify.corpus import PII_TYPES, SECRET_TYPES, positive

CONTENT_TYPES = [
    None,
    "application/json",
    "application/x-ndjson",
    "text/csv",
    "application/x-www-form-urlencoded",
    "text/plain",
    "application/octet-stream",
]
FAST = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)


@FAST
@given(body=st.binary(max_size=2048), ctype=st.sampled_from(CONTENT_TYPES))
def test_scan_never_raises_on_arbitrary_bytes(
    classifier: Classifier, body: bytes, ctype: str | None
) -> None:
    res = classifier.scan(body, ctype)
    assert all(0 <= f.start <= f.end for f in res.findings)


@FAST
@given(doc=json_values)
def test_scan_never_raises_on_arbitrary_json(classifier: Classifier, doc: Any) -> None:
    body = orjson.dumps(doc)
    classifier.scan(body, "application/json")
    redact(body, "application/json", classifier=classifier)
    classifier.scan_json(doc)


@FAST
@given(text=st.text(max_size=500), ctype=st.sampled_from(CONTENT_TYPES))
def test_redact_never_raises_and_keeps_json_valid(
    classifier: Classifier, text: str, ctype: str | None
) -> None:
    body = text.encode("utf-8", "surrogatepass")
    out = redact(body, ctype, classifier=classifier)
    if ctype == "application/json" and out.redacted:
        orjson.loads(out.body)


@FAST
@given(
    seed=st.integers(0, 2**32),
    types=st.lists(st.sampled_from(PII_TYPES + SECRET_TYPES), min_size=1, max_size=4),
    mode=st.sampled_from(list(RedactionMode)),
    wrap=st.sampled_from(["json", "text"]),
)
def test_redaction_never_leaks_a_detected_value(
    classifier: Classifier, seed: int, types: list[str], mode: RedactionMode, wrap: str
) -> None:
    r = random.Random(seed)
    values = {t: positive(r, t) for t in types}
    if wrap == "json":
        body = orjson.dumps({f"f{i}": f"note {v} end" for i, v in enumerate(values.values())})
        ctype = "application/json"
    else:
        body = " | ".join(values.values()).encode()
        ctype = "text/plain"
    res = classifier.scan(body, ctype)
    policy = RedactionPolicy(default=mode, token_key=b"test-key")
    out = redact(body, ctype, policy, classifier=classifier)
    text = orjson.loads(out.body) if wrap == "json" else out.body.decode()
    rendered = orjson.dumps(text).decode() if wrap == "json" else text
    decoded = body.decode()
    for f in res.findings:
        if f.confidence < classifier.min_confidence:
            continue
        if wrap == "json":
            leaf = orjson.loads(body)[f.path.removeprefix("$.")]
            raw = leaf[f.start : f.end]
        else:
            raw = decoded[f.start : f.end]
        assert raw not in rendered
        assert raw not in f.preview


def test_previews_never_contain_the_raw_value(classifier: Classifier) -> None:
    r = random.Random(5)
    for t in PII_TYPES + SECRET_TYPES:
        for _ in range(3):
            value = positive(r, t)
            for f in classifier.scan_text(value).findings:
                raw = value[f.start : f.end]
                assert raw not in f.preview, t
