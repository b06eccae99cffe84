"""Review 10: redaction never leaves a found value in the output, nor anything unscanned.

Each case here leaked before: another copy of a found value (another field, the same digits
with other separators, an object key), JSON that orjson refuses but other readers accept (a
BOM, a lone surrogate escape, NaN) redacted as raw text with its ``\\u0040`` escapes unread, the
first of two duplicate keys passed through unscanned, and JSON nested 255-1024 deep made
redaction raise.
"""

from __future__ import annotations

import json

import orjson
import pytest

from ringfence.classify import Classifier, RedactionMode, RedactionPolicy, redact
from ringfence.core.errors import ConfigError

SSN = "536-90-4399"
EMAIL = "john.smith@acme.io"


def _body(out: bytes) -> str:
    # what a reader that decodes JSON escapes sees
    return json.dumps(json.loads(out), ensure_ascii=False)


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


@pytest.mark.parametrize(
    "body",
    [
        b'\xef\xbb\xbf{"email":"john.smith\\u0040acme.io"}',  # UTF-8 BOM
        b'{"a":"\\udc00","email":"john.smith\\u0040acme.io"}',  # lone surrogate escape
        b'{"a":NaN,"email":"john.smith\\u0040acme.io"}',  # NaN (Python's json reads it)
    ],
)
def test_json_orjson_refuses_is_redacted_through_its_escapes(
    classifier: Classifier, body: bytes
) -> None:
    out = redact(body, "application/json", classifier=classifier)
    assert out.result.types >= {"email_address"}
    assert "john.smith" not in _body(out.body)


def test_ndjson_line_orjson_refuses_is_redacted_through_its_escapes(
    classifier: Classifier,
) -> None:
    body = b'{"a":"\\udc00","email":"john.smith\\u0040acme.io"}\n{"ssn":"536-90-4399"}'
    out = redact(body, "application/x-ndjson", classifier=classifier).body
    assert all("john.smith" not in _body(line) for line in out.split(b"\n"))
    assert SSN.encode() not in out


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        (b'{"ssn":"536-90-4399","ssn":"n/a"}', "application/json"),
        (b'{"ssn":"536-90-4399","ssn":"n/a"}\n{"a":1}', "application/x-ndjson"),
    ],
)
def test_the_unscanned_one_of_duplicate_keys_does_not_pass(
    classifier: Classifier, body: bytes, ctype: str
) -> None:
    # the scan reads the last value (as orjson does); a reader taking the first one must not
    # get the SSN from the "redacted" body
    assert SSN.encode() not in redact(body, ctype, classifier=classifier).body


@pytest.mark.parametrize("depth", [255, 600, 1000])
def test_deep_json_is_redacted(classifier: Classifier, depth: int) -> None:
    body = b"[" * depth + b'"john.smith@acme.io"' + b"]" * depth
    out = redact(body, "application/json", classifier=classifier)
    assert out.redacted == 1 and b"john.smith" not in out.body
    assert out.body.count(b"[") == depth and orjson.loads(out.body) is not None


def test_clean_body_is_returned_unchanged(classifier: Classifier) -> None:
    body = b'{"a": 1, "b": "hello", "c": "x@y"}'
    assert redact(body, "application/json", classifier=classifier).body == body


def test_a_token_key_never_shows_in_a_repr_and_must_be_bytes(classifier: Classifier) -> None:
    policy = RedactionPolicy(default=RedactionMode.TOKENIZE, token_key=b"s3cr3t-hmac-key-0123")
    assert "s3cr3t" not in repr(policy)
    with pytest.raises(ConfigError, match="bytes"):
        redact(
            b"SSN 536-90-4399",
            "text/plain",
            RedactionPolicy(default=RedactionMode.TOKENIZE, token_key="a-str-key"),  # type: ignore[arg-type]
            classifier=classifier,
        )
