"""The fast paths (Hyperscan offsets, context-word windows) find what a full scan finds.

The RE2-set engine reports no positions, so every woken detector scans the whole text; the
Hyperscan engine confirms only at match offsets and searches context-required detectors only in
the fields holding a context word or named for the type. Both must report the same findings.
"""

from __future__ import annotations

import pytest

from ringfence.classify import Classifier
from tests.classify.corpus import corpus, payload, typical_payload


@pytest.fixture(scope="module")
def full_scan() -> Classifier:
    return Classifier(engine="re2")


def _findings(c: Classifier, body: bytes, ct: str) -> list[tuple[str, str, int, int, float]]:
    return sorted(
        (f.type_id, f.path, f.start, f.end, round(f.confidence, 6))
        for f in c.scan(body, ct).findings
    )


def test_hyperscan_fast_paths_match_full_scans(
    classifier: Classifier, full_scan: Classifier
) -> None:
    if classifier.engine != "hyperscan":
        pytest.skip("hyperscan is not available on this platform")
    bodies = [(r.body, r.content_type) for r in corpus(80, seed=31)]
    bodies += [(payload(4096, seed=i), "application/json") for i in range(20)]
    bodies += [(typical_payload(i), "application/json") for i in range(20)]
    bodies += [(payload(64 << 10, seed=5), "application/json")]
    bodies += [(payload(16 << 10, seed=6), "text/plain")]  # one leaf, many context words
    for body, ct in bodies:
        assert _findings(classifier, body, ct) == _findings(full_scan, body, ct)


def test_context_required_values_only_count_near_their_context(classifier: Classifier) -> None:
    doc = (
        b'{"a": {"drivers_license": "D1234567"}, "b": "no context D7654321 here",'
        b' "c": "driver license D2345678 and then some text D3456789",'
        b' "d": "' + b"x" * 60 + b" license far before " + b"y" * 60 + b' D4567890"}'
    )
    got = {(f.path, f.type_id) for f in classifier.scan(doc, "application/json").findings}
    dl = {p for p, t in got if t == "drivers_license_number"}
    assert "$.a.drivers_license" in dl and "$.c" in dl
    assert "$.b" not in dl and "$.d" not in dl
