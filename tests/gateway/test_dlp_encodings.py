"""Encodings do not hide data from DLP: a form-encoded body is inspected as its upstream will
read it (``%40`` is ``@``, ``+`` a space), on both engines, for the verdict and the redaction;
responses in textual media types other than JSON and text/* (form, XML, CSV, NDJSON) are
inspected too, binary ones are not decoded as text."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import pytest

from ringfence.core.levels import DataClass
from ringfence.gateway.inspect import default_inspector, textual
from ringfence.gateway.stages import Deny, inspect_body

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

FORM = "application/x-www-form-urlencoded"
HIDDEN = [
    (b"email=alice%40corp.example&x=1", "email_address"),
    (b"card=4539+1488+0343+6467&x=1", "credit_card_number"),
    (b"card=4539%201488%200343%206467", "credit_card_number"),
    (b"note=%61lice%40corp%2Eexample", "email_address"),  # every character may be encoded
]


@pytest.fixture(params=["classify", "builtin"])
def inspector(request: pytest.FixtureRequest) -> Any:
    return default_inspector(request.param)


@pytest.mark.parametrize(("body", "type_id"), HIDDEN)
def test_a_percent_encoded_value_in_a_form_body_is_blocked(
    inspector: Any, body: bytes, type_id: str
) -> None:
    record: dict[str, Any] = {}
    with pytest.raises(Deny) as refused:
        inspect_body(body, None, inspector, DataClass.PUBLIC, "block", "request", record, FORM)
    assert refused.value.code == "dlp_blocked" and type_id in refused.value.detail
    assert type_id in record["request"]["types"]


@pytest.mark.parametrize(("body", "type_id"), HIDDEN)
def test_a_form_body_is_redacted_decoded_and_stays_a_form(
    inspector: Any, body: bytes, type_id: str
) -> None:
    record: dict[str, Any] = {}
    out = inspect_body(
        body, None, inspector, DataClass.PUBLIC, "redact", "request", record, f"{FORM}; a=b"
    )
    assert out is not None
    pairs = dict(parse_qsl(out.decode(), keep_blank_values=True))
    assert f"[REDACTED:{type_id}]" in "".join(pairs.values())
    decoded = " ".join(pairs.values())
    assert "alice@corp.example" not in decoded and "4539" not in decoded
    if "x" in dict(parse_qsl(body.decode())):
        assert pairs["x"] == "1"  # the rest of the form is intact


def test_the_same_bytes_as_plain_text_are_not_decoded(inspector: Any) -> None:
    # text/plain is not form-decoded: its upstream does not read %40 as @ either
    record: dict[str, Any] = {}
    body = b"email=alice%40corp.example"
    assert (
        inspect_body(
            body, None, inspector, DataClass.PUBLIC, "block", "request", record, "text/plain"
        )
        is None
    )


@pytest.mark.parametrize(
    ("ctype", "inspected"),
    [
        ("", True),
        ("text/csv; charset=utf-8", True),
        ("application/xml", True),
        ("application/atom+xml", True),
        ("application/x-www-form-urlencoded", True),
        ("application/x-ndjson", True),
        ("Application/CSV", True),
        ("application/octet-stream", False),
        ("image/png", False),
        ("application/pdf", False),
    ],
)
def test_textual_response_types(ctype: str, inspected: bool) -> None:
    assert textual(ctype) is inspected


async def test_through_the_gateway_a_percent_encoded_email_in_a_form_post_is_blocked(
    env: Any, upstream_url: str
) -> None:
    from ringfence.gateway.clients import save_routes
    from ringfence.gateway.routes import RouteSpec
    from tests.gateway.conftest import crm_routes

    forms = RouteSpec.model_validate(
        {
            "name": "crm-forms",
            "app": "crm",
            "prefix": "/crm-f",
            "upstream": upstream_url + "/api",
            "integrations": ["hr-to-crm"],
            "operations": [{"method": "POST", "path": "/notes", "scopes": ["crm.write"]}],
            "content_types": [FORM],
            "allow_loopback": True,
        }
    )
    save_routes(env.rt.store, [*crm_routes(upstream_url), forms])
    assert env.gateway.holder.reload(force=True)
    token = await env.token(env.a)
    headers = {"authorization": f"Bearer {token}", "content-type": FORM}
    r = await env.http.post("/crm-f/notes", content=b"note=ann%40corp.example", headers=headers)
    assert r.status_code == 403, r.text
    assert r.json()["data_types"] == ["email_address"]
    assert "ann" not in r.text
    ok = await env.http.post("/crm-f/notes", content=b"note=call+back+tuesday", headers=headers)
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize(("direction", "status"), [("request", 400), ("response", 502)])
def test_a_body_that_is_not_utf8_is_refused_with_the_right_side_to_blame(
    inspector: Any, direction: str, status: int
) -> None:
    with pytest.raises(Deny) as refused:
        inspect_body(
            b"caf\xe9", None, inspector, DataClass.PUBLIC, "block", direction, {}, "text/xml"
        )
    assert (refused.value.status, refused.value.code) == (status, "invalid_encoding")


B = "XyZ123"
MULTIPART = f"multipart/form-data; boundary={B}"


def _multipart(*parts: tuple[str, str]) -> bytes:
    """Parts as (extra header lines, content)."""
    out = b""
    for i, (headers, content) in enumerate(parts):
        out += (
            f'--{B}\r\nContent-Disposition: form-data; name="f{i}"\r\n{headers}\r\n{content}\r\n'
        ).encode()
    return out + f"--{B}--\r\n".encode()


@pytest.mark.parametrize(
    ("headers", "content"),
    [
        ("Content-Transfer-Encoding: base64\r\n", "YW5uQGNvcnAuZXhhbXBsZQ=="),  # ann@corp.example
        ("content-transfer-encoding:   Quoted-Printable\r\n", "ann=40corp.example"),
        ("Content-Type: text/plain\r\nCONTENT-TRANSFER-ENCODING: x-uuencode\r\n", "..."),
    ],
)
def test_a_multipart_part_in_an_encoding_dlp_cannot_read_is_refused(
    inspector: Any, headers: str, content: str
) -> None:
    body = _multipart(("", "hello"), (headers, content))
    for direction, status in (("request", 400), ("response", 502)):
        with pytest.raises(Deny) as refused:
            inspect_body(body, None, inspector, DataClass.PUBLIC, "block", direction, {}, MULTIPART)
        assert refused.value.status == status and refused.value.code == "part_encoding_rejected"


def test_a_multipart_body_in_readable_encodings_is_scanned_as_text(inspector: Any) -> None:
    clean = _multipart(("Content-Transfer-Encoding: 8bit\r\n", "hello"), ("", "world"))
    assert (
        inspect_body(clean, None, inspector, DataClass.PUBLIC, "block", "request", {}, MULTIPART)
        is None
    )
    leaky = _multipart(("Content-Transfer-Encoding: 7bit\r\n", "mail ann@corp.example"))
    with pytest.raises(Deny) as refused:
        inspect_body(leaky, None, inspector, DataClass.PUBLIC, "block", "request", {}, MULTIPART)
    assert refused.value.code == "dlp_blocked"
    # the same header text in a non-multipart body is only text
    text = b"Content-Transfer-Encoding: base64\r\nnothing here"
    assert (
        inspect_body(text, None, inspector, DataClass.PUBLIC, "block", "request", {}, "text/plain")
        is None
    )


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        ("ann@corp.example".encode("utf-16-le"), "text/plain; charset=utf-16le"),
        ("ann@corp.example".encode("utf-16-le"), "text/plain"),  # undeclared: NUL bytes
        ("ann@corp.example".encode("utf-32-be"), "text/plain; charset=UTF-32BE"),
        (b"ann+AEA-corp.example", 'text/plain; charset="utf-7"'),  # "+AEA-" is "@" in UTF-7
        (b"ann@corp.example", "text/plain; charset=ibm037"),  # EBCDIC reads other letters
    ],
)
def test_text_dlp_would_not_read_as_its_receiver_does_is_refused(
    inspector: Any, body: bytes, ctype: str
) -> None:
    for direction, status in (("request", 400), ("response", 502)):
        with pytest.raises(Deny) as refused:
            inspect_body(body, None, inspector, DataClass.PUBLIC, "block", direction, {}, ctype)
        assert refused.value.status == status and refused.value.code == "unreadable_encoding"


@pytest.mark.parametrize(
    "ctype", ["text/plain; charset=ISO-8859-1", "text/plain; charset=windows-1252", "text/csv"]
)
def test_ascii_compatible_charsets_are_read(inspector: Any, ctype: str) -> None:
    with pytest.raises(Deny) as refused:
        inspect_body(
            b"mail ann@corp.example",
            None,
            inspector,
            DataClass.PUBLIC,
            "block",
            "request",
            {},
            ctype,
        )
    assert refused.value.code == "dlp_blocked"
