"""Session 13 review (low): control characters in vendor-risk text, and stored document names.

Before, a NUL or an ESC in a profile note, a contact, a certification or pentest name was
stored (on PostgreSQL a NUL is a 422 naming nothing), a document's content type was stored
as sent (NUL, markup), and a file named ".." kept that name.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from ringfence.api import create_app
from ringfence.core.clock import FixedClock
from ringfence.runtime import Runtime
from ringfence.store.apitokens import ApiTokens
from ringfence.vendors.models import VendorProfile
from tests.vendors.conftest import Estate

V = "/api/v1/vendor-risk/Acme Payroll"


@pytest.fixture
def http(runtime: Runtime, clock: FixedClock, estate: Estate) -> Iterator[TestClient]:
    token = ApiTokens(runtime.store, clock).issue("vendor-admin", ["read", "write"], 30)
    headers = {"Authorization": f"Bearer {token.token.get_secret_value()}"}
    with TestClient(create_app(runtime), raise_server_exceptions=False, headers=headers) as c:
        yield c


@pytest.mark.parametrize(
    ("method", "route", "body", "field"),
    [
        ("put", "profile", {"notes": "call \x00 first"}, "notes"),
        (
            "put",
            "profile",
            {"contacts": [{"name": "SOC\x1b[2J", "email": "soc@acme.example"}]},
            "name",
        ),
        ("put", "profile", {"services": ["payroll\x07"]}, "services"),
        ("post", "certifications", {"kind": "other", "name": "ISO\x00"}, "name"),
        ("post", "contracts", {"name": "MSA", "clauses": {}, "start_on": None}, None),
        (
            "post",
            "pentests",
            {
                "name": "2026",
                "performed_on": "2026-01-01",
                "findings": [{"id": "F-1", "title": "XSS\x7f", "severity": "low"}],
            },
            "title",
        ),
    ],
)
def test_control_characters_in_vendor_risk_text_are_refused_naming_the_field(
    http: TestClient, method: str, route: str, body: dict[str, object], field: str | None
) -> None:
    r = getattr(http, method)(f"{V}/{route}", json=body)
    if field is None:  # the clean control case goes through
        assert r.status_code in (200, 201), r.text
        return
    assert r.status_code == 422, r.text
    assert f"{field} contains the control character U+" in r.json()["detail"]


def test_tabs_and_line_breaks_in_a_note_are_kept(http: TestClient) -> None:
    r = http.put(f"{V}/profile", json={"notes": "line 1\n\tline 2\r\n"})
    assert r.status_code == 200 and r.json()["notes"] == "line 1\n\tline 2"


def test_a_stored_note_with_a_control_character_still_reads(
    http: TestClient, runtime: Runtime, estate: Estate
) -> None:
    with runtime.store.session() as s:  # made before the rule
        s.add(VendorProfile(vendor_id=estate.vendor_id, notes="old\x0bnote"))
    r = http.get(V)
    assert r.status_code == 200 and r.json()["profile"]["notes"] == "old\x0bnote"


@pytest.mark.parametrize(
    ("filename", "content_type", "stored_name", "stored_type"),
    [
        ("..", "application/pdf", "document", "application/pdf"),
        ("report.pdf", "text/html\x00<script>", "report.pdf", "application/octet-stream"),
        ("r.pdf", "Application/PDF; charset=binary", "r.pdf", "application/pdf"),
    ],
)
def test_document_name_and_content_type_are_stored_clean(
    http: TestClient, filename: str, content_type: str, stored_name: str, stored_type: str
) -> None:
    r = http.post(
        f"{V}/documents",
        json={
            "filename": filename,
            "content_base64": base64.b64encode(b"%PDF").decode(),
            "content_type": content_type,
        },
    )
    assert r.status_code == 201, r.text
    assert (r.json()["filename"], r.json()["content_type"]) == (stored_name, stored_type)
    got = http.get(f"/api/v1/vendor-risk/documents/{r.json()['id']}")
    assert got.headers["content-disposition"] == f'attachment; filename="{stored_name}"'


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("profile", {"notes": "questionnaire sent: https://rf.example/vendor-assessments/"}, ""),
        ("assessments", {"recipient": "rf_vq_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"}, "recipient"),
        ("certifications", {"kind": "other", "name": "ghp_" + "a" * 36}, "name"),
        ("profile", {"hours": "see https://ops:hunter2@status.acme.example"}, "hours"),
    ],
)
def test_a_credential_pasted_into_vendor_risk_text_is_refused_unechoed(
    http: TestClient, route: str, body: dict[str, object], field: str
) -> None:
    method = http.put if route == "profile" else http.post
    path = f"{V}/{route}"
    if not field:  # the link without its token is just text
        token = http.post(f"{V}/assessments", json={}).json()["link"].rsplit("/", 1)[1]
        assert method(path, json=body).status_code == 200
        body = {"notes": str(body["notes"]) + token}
        field = "notes"
    r = method(path, json=body)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert field in detail and "not a place for credentials" in detail
    assert "hunter2" not in r.text and "rf_vq_" not in r.text and "ghp_aaaa" not in r.text
