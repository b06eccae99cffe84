"""Engine behaviour: formats, field paths, offsets, context, NFKC, streaming, allow-lists."""

from __future__ import annotations

import orjson

from ringfence.classify import Classifier, DataClass, scan, scan_json, scan_text


def test_json_findings_carry_field_path_offsets_and_masked_preview(classifier: Classifier) -> None:
    body = orjson.dumps(
        {"users": [{"contact": {"email": "jane.doe@acme.io"}, "notes": "SSN 536-90-4399"}]}
    )
    res = classifier.scan(body, "application/json")
    by_type = {f.type_id: f for f in res.findings}
    email = by_type["email_address"]
    assert email.path == "$.users[0].contact.email"
    assert (email.start, email.end) == (0, 16)
    ssn = by_type["us_social_security_number"]
    assert ssn.path == "$.users[0].notes" and (ssn.start, ssn.end) == (4, 15)
    assert ssn.preview == "***-**-4399"
    assert res.data_class is DataClass.RESTRICTED
    assert b"536-90-4399" not in classifier.to_json(res)


def test_payload_class_is_the_highest_confident_finding(classifier: Classifier) -> None:
    assert classifier.scan_text("client 203.0.113.42").data_class is DataClass.INTERNAL
    assert (
        classifier.scan_text("mail jane@acme.io from 203.0.113.42").data_class
        is DataClass.CONFIDENTIAL
    )
    assert classifier.scan_text("nothing to see here").data_class is DataClass.PUBLIC


def test_json_key_names_raise_confidence(classifier: Classifier) -> None:
    plain = classifier.scan(b'{"x": "536904399"}', "application/json")
    keyed = classifier.scan(b'{"ssn": "536904399"}', "application/json")
    assert "us_social_security_number" not in plain.types
    assert "us_social_security_number" in keyed.types


def test_order_ids_and_timestamps_are_not_personal_data(classifier: Classifier) -> None:
    body = orjson.dumps(
        {
            "order_id": "4556737586899855",
            "request_id": "8f14e45f-ceea-467f-a8f5-1b2c3d4e5f60",
            "created": 1712345678,
            "created_ms": 1712345678901,
            "timestamp": "2025-06-01T10:22:33Z",
            "amount": 123456789,
        }
    )
    assert classifier.scan(body, "application/json").types == frozenset()


def test_unicode_lookalike_digits_are_normalised(classifier: Classifier) -> None:
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in "4556737586899855")
    assert "credit_card_number" in classifier.scan_text(f"card {fullwidth}").types


def test_json_escapes_are_decoded_before_matching(classifier: Classifier) -> None:
    body = (
        b'{"hook": "https:\\/\\/hooks.slack.com\\/services\\/T01ABCDEF\\/B01ABCDEF\\/'
        b'Zq8vL2mN4pR7tY1wX5cB9dE3"}'
    )
    assert "slack_webhook_url" in classifier.scan(body, "application/json").types
    assert (
        "email_address" in classifier.scan(b'{"e": "jane\\u0040acme.io"}', "application/json").types
    )


def test_csv_uses_header_names_as_keys(classifier: Classifier) -> None:
    body = b"name,ssn,order_id\nJane,536904399,536904399\n"
    res = classifier.scan(body, "text/csv")
    assert [(f.path, f.type_id) for f in res.findings if f.confidence >= 0.5] == [
        ("$[1].ssn", "us_social_security_number")
    ]


def test_form_and_ndjson_bodies(classifier: Classifier) -> None:
    form = classifier.scan(
        b"email=jane%40acme.io&card=4556737586899855", "application/x-www-form-urlencoded"
    )
    assert {"email_address", "credit_card_number"} <= form.types
    nd = classifier.scan(
        b'{"a": "jane@acme.io"}\nnot json: SSN 536-90-4399\n', "application/x-ndjson"
    )
    assert {f.path for f in nd.findings} == {"$[0].a", "$[1]"}


def test_invalid_json_falls_back_to_text(classifier: Classifier) -> None:
    res = classifier.scan(b'{"email": "jane@acme.io", broken', "application/json")
    assert res.content_kind == "text"
    assert "email_address" in res.types


def test_leaves_never_join_across_fields(classifier: Classifier) -> None:
    res = classifier.scan(orjson.dumps(["4556 7375", "8689 9855"]), "application/json")
    assert "credit_card_number" not in res.types


def test_large_text_is_scanned_in_overlapping_windows() -> None:
    c = Classifier(chunk_chars=4096, overlap_chars=512, engine="re2")
    filler = "lorem ipsum dolor sit amet " * 150  # ~4 KiB
    text = filler[:4090] + " 536-90-4399 " + filler + " jane@acme.io"
    res = c.scan(text.encode(), "text/plain")
    ssn = [f for f in res.findings if f.type_id == "us_social_security_number"]
    assert len(ssn) == 1  # found once although it straddles a window boundary
    assert text[ssn[0].start : ssn[0].end] == "536-90-4399"
    email = [f for f in res.findings if f.type_id == "email_address"]
    assert text[email[0].start : email[0].end] == "jane@acme.io"
    streamed = c.scan_stream(text.encode()[i : i + 1000] for i in range(0, len(text), 1000))
    assert [(f.type_id, f.start) for f in streamed.findings] == [
        (f.type_id, f.start) for f in res.findings
    ]


def test_custom_allow_list_suppresses_known_test_values() -> None:
    c = Classifier(allow_values=["jane@acme.io"], engine="re2")
    assert "email_address" not in c.scan_text("mail jane@acme.io").types
    assert "email_address" in c.scan_text("mail john@acme.io").types
    assert (
        "credit_card_number"
        in Classifier(default_allowlist=False, engine="re2").scan_text("4111 1111 1111 1111").types
    )


def test_module_level_helpers_use_the_default_classifier() -> None:
    assert "email_address" in scan_text("jane@acme.io").types
    assert "email_address" in scan_json({"a": ["jane@acme.io"]}).types
    assert "email_address" in scan(b"jane@acme.io").types


def test_fast_path_and_parsed_path_agree(classifier: Classifier) -> None:
    plain = b'{"note": "nothing here", "n": 42}'
    assert classifier.scan(plain, "application/json").findings == ()
    escaped = b'{"note": "nothing \\u0068ere", "n": 42}'
    assert classifier.scan(escaped, "application/json").findings == ()


def test_deeply_nested_documents_do_not_fail(classifier: Classifier) -> None:
    deep: list[object] = []
    node = deep
    for _ in range(3000):  # deeper than Python's recursion limit
        child: list[object] = []
        node.append(child)
        node = child
    node.append("jane@acme.io")
    assert "email_address" in classifier.scan_json(deep).types
    body = b"[" * 1000 + b'"jane@acme.io"' + b"]" * 1000
    assert "email_address" in classifier.scan(body, "application/json").types


def test_may_find_is_false_only_for_bodies_scan_finds_nothing_in(classifier: Classifier) -> None:
    bodies = [
        b'{"name": "widget", "count": 3}',
        b"plain note, nothing here",
        b'{"email": "ann@corp.example"}',
        b"card 4539 1488 0343 6467",
        b'{"ssn": "536228726"}',
        b'{"k": "\\u0061nn@corp.example"}',  # an escape: not plain, always "may"
        "caf\u00e9 ann@corp.example".encode(),  # not ASCII: always "may"
    ]
    for body in bodies:
        for ctype in ("application/json", "text/plain"):
            if not classifier.may_find(body):
                assert not classifier.scan(body, ctype).findings, (body, ctype)
    assert not classifier.may_find(b'{"name": "widget", "count": 3}')
    assert classifier.may_find(b'{"email": "ann@corp.example"}')
    assert classifier.may_find(b'{"k": "\\u0061nn@corp.example"}')


def test_digit_groups_of_a_uuid_are_not_a_card_or_any_other_number(classifier: Classifier) -> None:
    """A UUID's first groups can be all decimal: 54484252-6369-4216 is a Luhn-valid
    Mastercard number in form, and about one random UUID in a few hundred has such a run. It
    blocked a gateway response that echoed a request id (session 8's CI). The same digits
    written as a card still are one."""
    import uuid

    ids = ["54484252-6369-4216-bdcb-818ec64dc356", "0f9a2c1e-5448-4252-6369-421600000000"]
    for value in ids:
        assert not classifier.scan(orjson.dumps({"id": value}), "application/json").findings
        assert not classifier.scan(f"request {value} done".encode(), "text/plain").findings
    uuids = [str(uuid.UUID(int=(i * 0x9E3779B97F4A7C15) ** 3 % (1 << 128))) for i in range(3000)]
    doc = orjson.dumps({"items": [{"id": u, "parent": u[::-1]} for u in uuids[:1500]]})
    assert not [
        f for f in classifier.scan(doc, "application/json").findings if f.path.endswith("id")
    ]
    for card in ("5448 4252 6369 4216", "5448-4252-6369-4216", "5448425263694216"):
        types = [f.type_id for f in classifier.scan(f"card {card}".encode(), "text/plain").findings]
        assert types == ["credit_card_number"], (card, types)
