"""Session 11: DLP bypasses found in review and closed here; each case failed before.

(a) a duplicate JSON key: only the last copy was scanned, and first-wins readers (gjson, some
Java parsers) take the first; (b) object keys and form field names were never scanned; (c) a
card number written as a JSON float was not scanned; (d) BOM-prefixed JSON was scanned as
text, so a ``\\u0040`` escape hid an e-mail; (e) the Hyperscan prefilter read custom patterns
with non-ASCII classes or ``.`` differently from RE2. Every case is checked on the native raw
path, the reference (parse-and-walk) path and the pure-Python engine.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from ringfence.classify import Classifier, RedactionMode, RedactionPolicy, load_custom_detectors
from ringfence.classify import _extract as ex
from ringfence.classify._accel import NATIVE
from ringfence.classify._prefilter import byte_safe
from ringfence.classify._redact import redact

CARD = "4556737586899855"
ENGINES = {
    "raw": {},
    "reference": {"raw_json": False},
    "python": {"native": False},
}


@pytest.fixture(scope="module", params=sorted(ENGINES))
def clf(request: pytest.FixtureRequest) -> Classifier:
    if request.param != "python" and NATIVE is None:
        pytest.skip("native extension not built")
    return Classifier(**ENGINES[request.param])


def types(c: Classifier, body: bytes, ctype: str | None = "application/json") -> set[str]:
    return set(c.scan(body, ctype).types)


def first_wins(body: bytes) -> Any:
    """What a reader that keeps the first of two equal keys takes."""

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            out.setdefault(k, v)
        return out

    return json.loads(body, object_pairs_hook=hook)


# -- (a) duplicate keys ----------------------------------------------------------------------

DUPLICATES = [
    b'{"card":"' + CARD.encode() + b'","card":"n/a"}',
    b'{"a":{"note":"card ' + CARD.encode() + b'"},"a":"x"}',
    b'[{"id":1,"card":"' + CARD.encode() + b'","name":"x","card":null}]',
    # an escaped key sends the body to the reference path
    b'{"n\\u0061me":"x","card":"' + CARD.encode() + b'","card":"n/a"}',
    # three copies, the card in the middle one
    b'{"c":"1","c":"' + CARD.encode() + b'","c":"2"}',
]


@pytest.mark.parametrize("body", DUPLICATES)
def test_every_copy_of_a_duplicate_key_is_scanned(clf: Classifier, body: bytes) -> None:
    assert CARD not in json.dumps(orjson.loads(body))  # a last-wins reading misses it
    assert "credit_card_number" in types(clf, body)


def test_a_duplicate_key_in_an_ndjson_line_is_scanned(clf: Classifier) -> None:
    body = b'{"a":1}\n{"ssn":"536-90-4399","ssn":"n/a"}\n'
    assert "us_social_security_number" in types(clf, body, "application/x-ndjson")


@pytest.mark.parametrize("body", DUPLICATES)
def test_redaction_of_duplicate_keys_leaves_no_copy(clf: Classifier, body: bytes) -> None:
    for mode in (RedactionMode.MASK, RedactionMode.LABEL, RedactionMode.REMOVE):
        out = redact(clf, body, "application/json", RedactionPolicy(default=mode)).body
        assert CARD not in out.decode()
        assert CARD not in json.dumps(first_wins(out))


def test_the_raw_path_reads_duplicates_as_the_reference_does() -> None:
    if NATIVE is None:
        pytest.skip("native extension not built")
    from tests.classify.test_raw_json import check_read

    for body in DUPLICATES[:3] + DUPLICATES[4:]:
        assert check_read(body), body
    leaves = ex.json_leaves(ex.parse_json(DUPLICATES[0])[1], (), None)
    assert [(leaf.path, leaf.text, leaf.ref) for leaf in leaves] == [
        (("card",), CARD, ()),
        (("card",), "n/a", ()),
        (("card",), "card", ex.KEY_REF),
    ]


# -- (b) keys and form field names -------------------------------------------------------------


def test_a_value_used_as_an_object_key_is_found_and_never_shown(clf: Classifier) -> None:
    body = orjson.dumps({"cards": {CARD: {"ssn": "536-90-4399"}}, "ok": True})
    res = clf.scan(body, "application/json")
    assert {"credit_card_number", "us_social_security_number"} <= res.types
    key = next(f for f in res.findings if f.type_id == "credit_card_number")
    assert key.path.endswith("~") and key.path.startswith("$.cards[")
    for f in res.findings:  # the key's value is masked in every path through it
        assert CARD not in f.path and CARD not in repr(f.path_parts)
    ssn = next(f for f in res.findings if f.type_id == "us_social_security_number")
    assert ssn.path.endswith("].ssn")


def test_an_email_map_key_is_found(clf: Classifier) -> None:
    body = b'{"members":{"alice.smith@corp.example":{"role":"admin"}}}'
    assert "email_address" in types(clf, body)


def test_a_form_field_name_is_scanned(clf: Classifier) -> None:
    body = f"{CARD}=1&x=2".encode()
    res = clf.scan(body, "application/x-www-form-urlencoded")
    assert "credit_card_number" in res.types
    assert all(CARD not in f.path for f in res.findings)


def test_key_names_do_not_become_findings_or_context(clf: Classifier) -> None:
    # key names alone (or under a secret-sounding parent) are not data, and a key is not its
    # own context: nothing here is reported
    doc = {
        "ssn": "n/a",
        "passwords": {"github.com": None, "gitlab.example.org": None},
        "credentials": {"someLongKeyName_abcdef123456": True},
        "card_number": None,
        "phone": {"mobile": None},
        "passport_number": None,
        "tokens": {"ghp_placeholder": None},
    }
    assert clf.scan(orjson.dumps(doc), "application/json").findings == ()


def test_a_found_key_is_redacted_wherever_it_is_used(clf: Classifier) -> None:
    body = orjson.dumps({"by_card": {CARD: 1}, "again": [{CARD: 2}]})
    out = redact(clf, body, "application/json").body
    assert CARD not in out.decode()
    assert json.loads(out)  # still JSON
    form = redact(clf, f"{CARD}=1".encode(), "application/x-www-form-urlencoded").body
    assert CARD not in form.decode()


# -- (c) numbers written as floats ------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        b"4556737586899855.0",
        b"4556737586899855.000",
        b"4.556737586899855e15",
        b"4.556737586899855E+15",
        b"45567375868998550e-1",
        b"455673758689985500000e-5",
        b"45567375.86899855e8",  # no run of digits in the raw bytes: the gate must let it in
        b"-45567.37586899855E+11",
    ],
)
def test_a_card_written_as_a_whole_float_is_found(clf: Classifier, number: bytes) -> None:
    body = b'{"pan":' + number + b',"amount":12.5}'
    assert "credit_card_number" in types(clf, body)


@pytest.mark.parametrize(
    ("lit", "value"),
    [
        ("4556737586899855.0", 4556737586899855),
        ("-4.556737586899855e15", -4556737586899855),
        ("9999999999999999999.0", 9999999999999999999),  # beyond 2**53: exact
        ("123456.0", 123456),
        ("1.5e5", 150000),
        ("12345.0", 12345.0),  # too short to be anything: left a float
        ("4556737586899855.5", 4556737586899855.5),  # a fraction: not a whole number
        ("1e40", 1e40),  # 41 digits
        ("1e39", 10**39),
        ("0.0", 0.0),
        ("1e1000000", float("inf")),  # the exponent is not expanded
        ("0.000001e6", 1.0),
    ],
)
def test_float_literals_read_as_whole_numbers(lit: str, value: float) -> None:
    got = ex.float_literal(lit)
    assert got == value and type(got) is type(value)


def test_the_raw_path_reads_floats_as_the_reference_does() -> None:
    if NATIVE is None:
        pytest.skip("native extension not built")
    from tests.classify.test_raw_json import check_read

    lits = [
        "4556737586899855.0", "-4.556737586899855e15", "9999999999999999999.0", "123456.0",
        "1.5e5", "12345.0", "4556737586899855.5", "1e40", "1e39", "0.0", "-0.0", "0.000001e6",
        "1.0e-0", "100000.00000e+000", "1234567e-1", "12345670e-1", "1E+5", "1e5", "-1e5",
        "123456789012345678901234567890123456789.0",
    ]  # fmt: skip
    for lit in lits:
        assert check_read(f'{{"n":{lit},"s":"x"}}'.encode()), lit


# -- (d) BOM-prefixed JSON ----------------------------------------------------------------------


@pytest.mark.parametrize("ctype", ["application/json", None])
def test_bom_prefixed_json_is_read_as_json(clf: Classifier, ctype: str | None) -> None:
    body = b'\xef\xbb\xbf{"email":"john.smith\\u0040acme.io"}'
    res = clf.scan(body, ctype)
    assert res.content_kind == "json"
    assert "email_address" in res.types
    assert [f.path for f in res.findings] == ["$.email"]


def test_nan_and_lone_surrogates_are_read_as_json(clf: Classifier) -> None:
    body = b'{"x":NaN,"s":"\\udc00","email":"john.smith\\u0040acme.io"}'
    res = clf.scan(body, "application/json")
    assert res.content_kind == "json" and "email_address" in res.types
    out = redact(clf, body, "application/json").body
    assert b"john.smith" not in out and json.loads(out)["x"] is None


# -- (e) custom patterns: Hyperscan and RE2 agree ----------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "positive"),
    [
        (r"\pL{3}\d{4}", "ref Ääb1234"),
        (r"Z.Z\d{3}", "ref ZéZ123"),
        (r"\bREF[^a-z]\d{3}\b", "REFé123"),
        (r"\bREF\W\d{3}\b", "REF€123"),
        (r"\bREF\D\d{3}\b", "REF€123"),
        (r"\bREF\x{e9}\d{3}", "REFé123"),
        (r"ÉT\d{3}", "ref ÉT123"),
        (r"(?i)ét\d{3}", "ref ÉT123"),
        (r"\bREF[[:^alpha:]]\d{3}", "REF€123"),
        (r"\bREF\C\d{3}", "REF#123"),
    ],
)
def test_custom_patterns_over_non_ascii_text_are_found_by_every_engine(
    pattern: str, positive: str
) -> None:
    spec = {"id": "acme_ref", "class": "confidential", "pattern": pattern, "positive": [positive]}
    (det,) = load_custom_detectors([spec])
    for engine in ("auto", "re2"):
        c = Classifier(detectors=(), custom=(det,), default_allowlist=False, engine=engine)
        for body, ctype in (
            (positive.encode(), "text/plain"),
            (orjson.dumps({"v": f"x {positive} y"}), "application/json"),
            (orjson.dumps([{"a": 1, "b": positive}]), "application/json"),
        ):
            assert "acme_ref" in c.scan(body, ctype).types, (engine, body)


@pytest.mark.parametrize(
    ("pattern", "safe"),
    [
        (r"\bEMP-\d{6}\b", True),
        (r"(?:employee|staff\x20id)", True),
        (r"[A-Z]{3}\s\w+", True),
        (r"Z.Z", False),
        (r"[^a-z]", False),
        (r"\pL", False),
        (r"\PL", False),
        (r"\x{e9}", False),
        (r"\xe9", False),
        (r"\D", False),
        (r"\W", False),
        (r"\S", False),
        (r"\C", False),
        (r"\Qé\E", False),
        ("é", False),
        (r"[[:^alpha:]]", False),
        (r"\.\-", True),
    ],
)
def test_byte_safe_patterns(pattern: str, safe: bool) -> None:
    assert byte_safe(pattern) is safe
