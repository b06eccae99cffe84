"""API10:2023 Unsafe Consumption of APIs — the upstream is not trusted either."""

from __future__ import annotations

from tests.gateway.conftest import Env


async def test_fifty_megabyte_upstream_response_is_cut_off(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.get("/crm/huge", token)
    assert r.status_code == 502
    assert r.json()["code"] == "upstream_too_large"
    assert len(r.content) < 10_000


async def test_upstream_redirect_is_refused(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.get("/crm/redirect", token)
    assert r.status_code == 502
    assert "location" not in r.headers


async def test_upstream_response_with_pii_above_clearance_is_blocked(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.get("/crm/pii", token)
    assert r.status_code == 403
    body = r.json()
    assert body["code"] == "dlp_blocked"
    assert set(body["data_types"]) == {"email_address", "credit_card_number"}
    assert "ann@example.com" not in r.text and "4539" not in r.text


async def test_slow_upstream_times_out(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.get("/crm/slow", token)
    assert r.status_code == 504


async def test_upstream_server_headers_are_not_passed_through(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.get("/crm/contacts", token)
    assert "set-cookie" not in r.headers
    assert r.headers.get("server", "") != "upstream/1.0"


async def test_encoded_upstream_body_that_cannot_be_inspected_is_refused(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.get("/crm/gzip", token)
    assert r.status_code == 502
    assert r.json()["code"] == "upstream_encoding"


async def test_a_binary_upstream_response_dlp_cannot_read_is_refused(env: Env) -> None:
    """A PDF (with an email and a card number in it) on a route whose responses DLP inspects:
    nothing leaves unchecked, so it is refused; the audit record says why."""
    token = await env.token(env.a)
    r = await env.get("/crm/file", token)
    assert r.status_code == 502
    assert r.json()["code"] == "upstream_uninspectable"
    assert "application/pdf" in r.json()["detail"] and "ann@example.com" not in r.text
    event = env.audit.events[-1]
    assert event.reason == "upstream_uninspectable"
    assert event.dlp["response"]["inspected"] is False
    assert event.dlp["response"]["media_type"] == "application/pdf"


async def test_a_route_that_allows_binary_responses_passes_them_and_audits_them_uninspected(
    env: Env,
) -> None:
    token = await env.token(env.a)
    r = await env.get("/crm-r/file", token)
    assert r.status_code == 200 and r.content.startswith(b"%PDF-1.7")
    event = env.audit.events[-1]
    assert event.decision == "allow"
    assert event.dlp["response"]["inspected"] is False
    assert event.dlp["response"]["media_type"] == "application/pdf"


async def test_a_response_schema_refuses_a_body_that_is_not_json(env: Env) -> None:
    # the route promises JSON: a text/plain answer is not checked against the schema and
    # passed along, it is refused (before, only JSON-typed responses met the schema)
    token = await env.token(env.a)
    r = await env.get("/crm/notjson", token)
    assert r.status_code == 502
    assert r.json()["code"] == "upstream_invalid"
    assert "not json at all" not in r.text


async def test_text_in_utf16_is_not_passed_as_if_dlp_had_read_it(env: Env) -> None:
    """UTF-16 text in the ASCII range is valid UTF-8 byte for byte (a NUL between letters):
    scanned as UTF-8, ``ann@corp.example`` in it is not seen. It is refused as unreadable
    (found in review)."""
    token = await env.token(env.a)
    for kind in ("utf16", "utf16-nocharset"):
        r = await env.get(f"/crm/{kind}", token)
        assert r.status_code == 502, kind
        assert r.json()["code"] == "upstream_uninspectable"
        assert "a\x00n\x00n" not in r.text


async def test_an_upstream_error_page_on_a_route_with_a_response_schema_passes_with_its_status(
    env: Env,
) -> None:
    # the schema describes the success; an upstream's 503 page (DLP-scanned text) is relayed
    # with its status and Retry-After, not turned into a 502
    token = await env.token(env.a)
    r = await env.get("/crm/busy", token)
    assert r.status_code == 503 and r.headers["retry-after"] == "7"
