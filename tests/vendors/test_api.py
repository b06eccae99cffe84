"""HTTP: management API behind auth, public questionnaire by token (HTML form + JSON)."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ringfence.api import create_app
from ringfence.core.clock import FixedClock
from ringfence.runtime import Runtime
from ringfence.store.apitokens import ApiTokens
from ringfence.store.audit import verify
from ringfence.store.models import AuditRecord
from ringfence.vendors.models import VendorDocument
from tests.vendors.conftest import Estate, add_integration
from tests.vendors.test_assessments import good_answers
from tests.vendors.test_transfer import MALFORMED_XLSX

V = "/api/v1/vendor-risk"


@dataclass
class Client:
    http: TestClient
    rw: dict[str, str]
    ro: dict[str, str]


@pytest.fixture
def client(runtime: Runtime, clock: FixedClock, estate: Estate) -> Iterator[Client]:
    tokens = ApiTokens(runtime.store, clock)
    rw = tokens.issue("vendor-admin", ["read", "write"], 30).token.get_secret_value()
    ro = tokens.issue("vendor-reader", ["read"], 30).token.get_secret_value()
    with TestClient(create_app(runtime), raise_server_exceptions=False) as http:
        yield Client(http, {"Authorization": f"Bearer {rw}"}, {"Authorization": f"Bearer {ro}"})


def _send(c: Client, template: str = "lite", days: int = 21) -> dict[str, Any]:
    r = c.http.post(
        f"{V}/Acme Payroll/assessments", json={"template": template, "days": days}, headers=c.rw
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _token(link: str) -> str:
    return link.rsplit("/", 1)[1]


def test_management_routes_require_auth_and_scope(client: Client) -> None:
    r = client.http.get(V)
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    assert client.http.get(V, headers=client.ro).status_code == 200
    r = client.http.post(f"{V}/Acme Payroll/assessments", json={}, headers=client.ro)
    assert r.status_code == 403


def test_send_answer_by_json_and_reuse_is_409(client: Client, runtime: Runtime) -> None:
    sent = _send(client)
    assert sent["questions"] >= 20 and "/vendor-assessments/rf_vq_" in sent["link"]
    path = "/api/v1/vendor-assessments/" + _token(sent["link"])
    q = client.http.get(path)
    assert q.status_code == 200 and q.headers["cache-control"] == "no-store"
    ids = [x["id"] for x in q.json()["questions"]]
    r = client.http.post(path, json={"answers": good_answers(ids)})
    assert r.status_code == 200 and r.json()["status"] == "submitted"
    again = client.http.post(path, json={"answers": good_answers(ids)})
    assert again.status_code == 409 and again.json()["code"] == "link_used"
    assert client.http.get(path).status_code == 409
    assert verify(runtime.store).ok


def test_expired_link_is_410_in_json_and_html(client: Client, clock: FixedClock) -> None:
    sent = _send(client, days=1)
    clock.advance(days=2)
    token = _token(sent["link"])
    r = client.http.get(f"/api/v1/vendor-assessments/{token}")
    assert r.status_code == 410 and r.json()["code"] == "link_expired"
    page = client.http.get(f"/vendor-assessments/{token}")
    assert page.status_code == 410 and "expired" in page.text


def test_unknown_token_is_404(client: Client) -> None:
    assert client.http.get("/api/v1/vendor-assessments/rf_vq_nope").status_code == 404
    assert client.http.get("/vendor-assessments/whatever").status_code == 404


def test_invalid_json_answers_are_422_with_each_question(client: Client) -> None:
    sent = _send(client)
    path = "/api/v1/vendor-assessments/" + _token(sent["link"])
    r = client.http.post(path, json={"answers": {"GRC-01": "sometimes"}})
    assert r.status_code == 400 and r.json()["code"] == "invalid_answers"
    assert {"question": "GRC-01", "problem": "expected yes, no or n.a."} in r.json()["errors"]
    assert client.http.post(path, json={"answers": "x"}).status_code == 422
    assert (
        client.http.post(path, content=b"a=b", headers={"content-type": "text/plain"}).status_code
        == 415
    )


def test_html_form_is_accessible_and_submits_with_evidence(
    client: Client, runtime: Runtime
) -> None:
    sent = _send(client)
    url = "/vendor-assessments/" + _token(sent["link"])
    page = client.http.get(url)
    assert page.status_code == 200
    html = page.text
    assert '<html lang="en">' in html and "<fieldset>" in html and "<legend>" in html
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "<script" not in html
    for qid in ("GRC-01", "AA-03"):
        assert f'id="{qid}"' in html
    assert 'aria-describedby="hint-AA-03"' in html
    ids = re.findall(r'name="[qf]_([A-Z]{2,3}-\d{2})"', html)
    data = {f"q_{k}": v for k, v in good_answers(sorted(set(ids))).items()}
    # First a broken submission: the form comes back with an error summary, 422.
    bad = dict(data, **{"q_GRC-01": "maybe"})
    r = client.http.post(
        url, data=bad, files={"f_AA-03": ("soc2.pdf", b"%PDF report", "application/pdf")}
    )
    assert r.status_code == 422
    assert (
        'role="alert"' in r.text and 'href="#GRC-01"' in r.text and 'aria-invalid="true"' in r.text
    )
    with runtime.store.session() as s:
        assert s.query(VendorDocument).count() == 0  # nothing stored for a rejected form
    r = client.http.post(
        url, data=data, files={"f_AA-03": ("soc2.pdf", b"%PDF report", "application/pdf")}
    )
    assert r.status_code == 200 and "Thank you" in r.text
    listed = client.http.get(f"{V}/Acme Payroll/assessments", headers=client.ro).json()
    assert listed[0]["status"] == "submitted" and listed[0]["score"] == 100.0
    again = client.http.post(url, data=data)
    assert again.status_code == 409 and "already submitted" in again.text


def test_form_without_length_or_too_large_is_refused(client: Client) -> None:
    sent = _send(client)
    url = "/vendor-assessments/" + _token(sent["link"])
    r = client.http.post(url, content=b"x", headers={"content-length": str(30 * 1024 * 1024)})
    assert r.status_code == 413


def test_export_import_over_http(client: Client) -> None:
    sent = _send(client)
    r = client.http.get(f"{V}/assessments/{sent['id']}/export?format=csv", headers=client.ro)
    assert r.status_code == 200 and r.text.lstrip("\ufeff").startswith("question_id,")
    bad = base64.b64encode(b"question_id,answer\nGRC-01,maybe\n").decode()
    r = client.http.post(
        f"{V}/assessments/{sent['id']}/import",
        json={"filename": "a.csv", "content_base64": bad},
        headers=client.rw,
    )
    assert r.status_code == 400 and r.json()["code"] == "import_rejected"
    assert any(e["cell"] == "B2" for e in r.json()["errors"])
    r = client.http.post(
        f"{V}/assessments/{sent['id']}/import",
        json={"filename": "a.csv", "content_base64": "!!!"},
        headers=client.rw,
    )
    assert r.status_code == 400
    assert (
        client.http.get(
            f"{V}/assessments/{sent['id']}/export?format=pdf", headers=client.ro
        ).status_code
        == 422
    )


def test_evidence_and_score_endpoints(client: Client, runtime: Runtime, estate: Estate) -> None:
    add_integration(runtime, estate, "pay-sync", scopes=["payroll.write"], classes=["restricted"])
    h = client.rw
    assert (
        client.http.put(
            f"{V}/Acme Payroll/profile",
            json={
                "tier": "critical",
                "domains": ["acme.example"],
                "breach_notification_address": "breach@acme.example",
                "contacts": [
                    {"name": "CISO", "email": "ciso@acme.example", "escalation_order": 2},
                    {"name": "SOC", "email": "soc@acme.example", "escalation_order": 1},
                ],
            },
            headers=h,
        ).status_code
        == 200
    )
    r = client.http.post(
        f"{V}/Acme Payroll/certifications",
        json={"kind": "soc2_type2", "period_start": "2024-01-01", "period_end": "2024-12-31"},
        headers=h,
    )
    assert r.status_code == 201
    r = client.http.post(
        f"{V}/Acme Payroll/contracts",
        json={"name": "MSA", "clauses": {"right_to_audit": True, "breach_notification_hours": 48}},
        headers=h,
    )
    assert r.status_code == 201
    doc = client.http.post(
        f"{V}/Acme Payroll/documents",
        json={"filename": "msa.pdf", "content_base64": base64.b64encode(b"%PDF msa").decode()},
        headers=h,
    )
    assert doc.status_code == 201
    got = client.http.get(f"{V}/documents/{doc.json()['id']}", headers=client.ro)
    assert got.content == b"%PDF msa" and got.headers["x-content-sha256"] == doc.json()["sha256"]
    score = client.http.get(f"{V}/Acme Payroll/score", headers=client.ro).json()
    assert score["tier"] == "critical" and score["highest_data_class"] == "restricted"
    assert "SOC 2 Type II expired 1 day ago: +10" in score["explanation"]
    assert "no DPA although it receives restricted data: +10" in score["explanation"]
    detail = client.http.get(f"{V}/Acme Payroll", headers=client.ro).json()
    assert [c["name"] for c in detail["profile"]["contacts"]] == ["SOC", "CISO"]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/Nobody/certifications", {"kind": "iso27001", "expires_on": "2027-01-01"}, 404),
        ("/Acme Payroll/certifications", {"kind": "iso27001"}, 422),
        ("/Acme Payroll/contracts", {"name": "x", "clauses": {"nda": True}}, 422),
        ("/Acme Payroll/pentests", {"name": "x", "performed_on": "yesterday"}, 422),
        ("/Acme Payroll/profile", {"tier": "extreme"}, 422),
        ("/Acme Payroll/assessments", {"days": 500}, 422),
        ("/Acme Payroll/assessments", {"template": "huge"}, 422),
    ],
)
def test_bad_management_input_is_a_clear_4xx(
    client: Client, path: str, body: dict[str, Any], status: int
) -> None:
    method = client.http.put if path.endswith("/profile") else client.http.post
    r = method(V + path, json=body, headers=client.rw)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_json_evidence_upload_counts_and_is_audited(client: Client, runtime: Runtime) -> None:
    sent = _send(client)
    path = "/api/v1/vendor-assessments/" + _token(sent["link"])
    ids = [x["id"] for x in client.http.get(path).json()["questions"]]
    content = base64.b64encode(b"%PDF soc2").decode()
    r = client.http.post(
        f"{path}/documents",
        json={"question_id": "GRC-01", "filename": "x.pdf", "content_base64": content},
    )
    assert r.status_code == 400 and "not an evidence question" in r.json()["detail"]
    r = client.http.post(
        f"{path}/documents",
        json={"question_id": "AA-03", "filename": "soc2.pdf", "content_base64": content},
    )
    assert r.status_code == 201
    doc_id = r.json()["document_id"]
    answers = good_answers(ids)
    bad = client.http.post(path, json={"answers": {**answers, "AA-03": "not-a-document"}})
    assert bad.status_code == 400
    assert {"question": "AA-03", "problem": "no such uploaded document"} in bad.json()["errors"]
    ok = client.http.post(path, json={"answers": {**answers, "AA-03": doc_id}})
    assert ok.status_code == 200
    listed = client.http.get(f"{V}/Acme Payroll/assessments", headers=client.ro).json()
    assert listed[0]["score"] == 100.0
    with runtime.store.session() as s:
        actions = {
            (r.actor, r.action)
            for r in s.query(AuditRecord).filter(AuditRecord.action.like("vendor_risk.%"))
        }
    assert ("vendor-link:Acme Payroll", "vendor_risk.assessment.submit") in actions
    assert ("vendor-link:Acme Payroll", "vendor_risk.document.upload") in actions
    assert ("token:vendor-admin", "vendor_risk.assessment.send") in actions
    assert verify(runtime.store).ok


def test_renewals_and_reminders_endpoints(client: Client) -> None:
    h = client.rw
    r = client.http.post(
        f"{V}/Acme Payroll/contracts",
        json={"name": "MSA", "end_on": "2026-03-01", "notice_days": 45},
        headers=h,
    )
    assert r.status_code == 201
    client.http.post(
        f"{V}/Acme Payroll/certifications",
        json={"kind": "iso27001", "expires_on": "2026-01-20"},
        headers=h,
    )
    due = client.http.get(f"{V}/renewals", headers=client.ro).json()
    assert due == [
        {
            "vendor": "Acme Payroll",
            "contract": "MSA",
            "renewal_on": "2026-03-01",
            "notice_by": "2026-01-15",
            "auto_renew": False,
        }
    ]
    assert client.http.get(f"{V}/renewals?within_days=30", headers=client.ro).json() == []
    assert client.http.get(f"{V}/renewals?within_days=0", headers=client.ro).status_code == 422
    (rem,) = client.http.get(f"{V}/reminders", headers=client.ro).json()
    assert rem["stage"] == 30 and rem["days_left"] == 19


def test_form_posts_with_bad_tokens_or_bodies_get_html_errors(client: Client) -> None:
    r = client.http.post("/vendor-assessments/rf_vq_unknown", data={"q_GRC-01": "yes"})
    assert r.status_code == 404 and "not valid" in r.text
    sent = _send(client)
    url = "/vendor-assessments/" + _token(sent["link"])
    garbage = client.http.post(
        url,
        content=b"--xyz\r\nnot a part\r\n",
        headers={"content-type": "multipart/form-data; boundary=xyz"},
    )
    assert garbage.status_code in (400, 422) and "<html" in garbage.text
    unknown = client.http.post(url, data={"q_ZZZ-01": "yes"})
    assert unknown.status_code == 422 and "ZZZ-01" in unknown.text
    assert "<script" not in client.http.post(url, data={"q_SEF-08": "<script>x</script>"}).text


def test_control_character_answer_over_the_link_is_400_and_export_keeps_working(
    client: Client,
) -> None:
    sent = _send(client)
    path = "/api/v1/vendor-assessments/" + _token(sent["link"])
    ids = [x["id"] for x in client.http.get(path).json()["questions"]]
    answers = good_answers(ids)
    answers["SEF-08"] = 'see policy\x0b=HYPERLINK("http://evil","x")'
    r = client.http.post(path, json={"answers": answers})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem")
    assert r.json()["code"] == "invalid_answers"
    assert r.json()["errors"] == [
        {
            "question": "SEF-08",
            "problem": "answer contains the control character U+000B; "
            "only tab and line breaks are allowed",
        }
    ]
    for fmt in ("xlsx", "csv"):
        r = client.http.get(f"{V}/assessments/{sent['id']}/export?format={fmt}", headers=client.ro)
        assert r.status_code == 200
    # The link was not consumed: a corrected answer is accepted.
    answers["SEF-08"] = "see policy"
    assert client.http.post(path, json={"answers": answers}).status_code == 200


@pytest.mark.parametrize("case", sorted(MALFORMED_XLSX))
def test_malformed_xlsx_import_is_a_400_problem(client: Client, case: str) -> None:
    sent = _send(client)
    content = base64.b64encode(MALFORMED_XLSX[case][0]()).decode()
    r = client.http.post(
        f"{V}/assessments/{sent['id']}/import",
        json={"filename": "a.xlsx", "content_base64": content},
        headers=client.rw,
    )
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "XLSX" in r.json()["detail"] or "header row" in r.json()["detail"]
