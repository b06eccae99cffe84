"""The builtin DLP engine reads JSON escapes (session 11): it scans a body as text, so
``john\\u0040acme.io`` — the same address to every JSON reader — passed unseen."""

from __future__ import annotations

import pytest

from ringfence.gateway.inspect import BuiltinInspector

JSON = "application/json"


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b'{"e": "john\\u0040acme.io"}', "email_address"),
        (b'{"e": "\\u006a\\u006f\\u0068\\u006e@acme.io"}', "email_address"),
        (b'{"c": "4556\\u00207375 8689 9855"}', "credit_card_number"),
        (b'{"k": "\\u0041KIAIOSFODNN7EXAMPLE"}', "aws_access_key_id"),
        (b'{"x": "\\ud800", "e": "john\\u0040acme.io"}', "email_address"),  # lone surrogate
        (b'{"x": NaN, "e": "john\\u0040acme.io"}', "email_address"),  # NaN
    ],
)
def test_escaped_values_in_json_are_found(body: bytes, kind: str) -> None:
    hits = BuiltinInspector().scan_bytes(body, JSON)
    assert kind in {h.type_id for h in hits}, body


def test_what_is_not_json_is_scanned_as_sent() -> None:
    inspector = BuiltinInspector()
    assert inspector.scan_bytes(b"john\\u0040acme.io", "text/plain") == []
    assert inspector.scan_bytes(b'{"e": "john\\u0040acme.io"', JSON) == []  # not JSON
    assert inspector.scan_bytes(b'{"e": "john@acme.io"}', JSON)
