"""The DLP engine over the API: authenticated, any content type, masked previews only."""

from __future__ import annotations

from tests.api.conftest import Api

CARD = "4539 1488 0343 6467"  # Luhn-valid, not a well-known test number


def test_scan_requires_a_token(api: Api) -> None:
    resp = api.client.post("/api/v1/classify/scan", content=b"x", headers={})
    assert resp.status_code == 401
    assert resp.headers["content-type"].startswith("application/problem+json")


def test_read_only_token_may_scan_csv(api: Api) -> None:
    csv = f"name,email,card\nAda,ada@corp.example,{CARD}\n".encode()
    resp = api.client.post(
        "/api/v1/classify/scan",
        content=csv,
        headers={**api.ro, "Content-Type": "text/csv"},
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert CARD not in resp.text and "ada@corp.example" not in resp.text
    assert body["class"] in ("confidential", "restricted")
    assert body["findings"]


def test_redact_returns_the_same_shape_without_the_value(api: Api) -> None:
    resp = api.client.post(
        "/api/v1/classify/redact",
        json={"customer": {"card_number": CARD, "note": "ok"}},
        headers=api.rw,
    )
    assert resp.status_code == 200, resp.text
    assert CARD not in resp.text and resp.json()["customer"]["note"] == "ok"


def test_types_catalogue_is_listed(api: Api) -> None:
    resp = api.get("/api/v1/classify/types")
    assert resp.status_code == 200 and len(resp.json()) >= 100
