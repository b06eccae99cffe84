"""Review 10: redaction never leaves a found value in the output.

Each case here leaked before: another copy of a found value (another field, the same digits
with other separators, an object key) stayed in clear next to the redacted one.
"""

from __future__ import annotations

import orjson
import pytest

from ringfence.classify import Classifier, RedactionMode, RedactionPolicy, redact

SSN = "536-90-4399"
EMAIL = "john.smith@acme.io"


@pytest.mark.parametrize(
    ("body", "ctype", "gone"),
    [
        (b'{"ssn":"536904399","note":"his number is 536904399"}', "application/json", "536904399"),
        (b'{"ssn":"536-90-4399","note":"call 536904399"}', "application/json", "536904399"),
        (b'{"ssn":"536-90-4399","note":"call 536 90 4399"}', "application/json", "536 90 4399"),
        (b'{"passport":"C03005988","copy":"c03005988"}', "application/json", "03005988"),
        (b'{"user":{"email":"jane@acme.io"},"Jane@Acme.io":{"x":1}}', "application/json", "jane@"),
        (b"name,ssn,note\nJane,536904399,536904399\n", "text/csv", "536904399"),
        (b"ssn=536904399&note=536904399", "application/x-www-form-urlencoded", "536904399"),
        (b"ssn=536-90-4399&536904399=x", "application/x-www-form-urlencoded", "536904399"),
        (b'{"ssn":"536904399"}\n{"note":"536904399"}', "application/x-ndjson", "536904399"),
        (b'{"ssn":"536904399"}\n{"536904399":1}', "application/x-ndjson", "536904399"),
    ],
)
@pytest.mark.parametrize("mode", [RedactionMode.MASK, RedactionMode.LABEL, RedactionMode.TOKENIZE])
def test_every_copy_of_a_found_value_is_redacted(
    classifier: Classifier, body: bytes, ctype: str, gone: str, mode: RedactionMode
) -> None:
    policy = RedactionPolicy(default=mode, token_key=b"k" * 32)
    out = redact(body, ctype, policy, classifier=classifier)
    assert out.redacted >= 2
    assert gone.lower() not in out.body.decode().lower()


def test_copies_get_the_same_token(classifier: Classifier) -> None:
    policy = RedactionPolicy(default=RedactionMode.TOKENIZE, token_key=b"k" * 32)
    body = b'{"ssn":"536-90-4399","note":"536904399"}'
    doc = orjson.loads(redact(body, "application/json", policy, classifier=classifier).body)
    assert doc["ssn"] == doc["note"] and doc["ssn"].startswith("tok_us_social")


def test_two_keys_masked_alike_are_both_kept(classifier: Classifier) -> None:
    body = b'{"a":"jane@acme.io","b":"joan@acme.io","jane@acme.io":1,"joan@acme.io":2}'
    doc = orjson.loads(redact(body, "application/json", classifier=classifier).body)
    assert len(doc) == 4 and "jane" not in str(doc) and "joan" not in str(doc)
    assert sorted(v for v in doc.values() if isinstance(v, int)) == [1, 2]


def test_unrelated_values_are_left_alone(classifier: Classifier) -> None:
    body = b'{"ssn":"536-90-4399","note":"order 123456789, ref 4399"}'
    doc = orjson.loads(redact(body, "application/json", classifier=classifier).body)
    assert doc["note"] == "order 123456789, ref 4399"


def test_clean_body_is_returned_unchanged(classifier: Classifier) -> None:
    body = b'{"a": 1, "b": "hello", "c": "x@y"}'
    assert redact(body, "application/json", classifier=classifier).body == body
