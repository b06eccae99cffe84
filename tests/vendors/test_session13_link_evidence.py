"""Session 13 review (low): what a questionnaire link may cite or upload as evidence."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ringfence.api import create_app
from ringfence.core.clock import FixedClock
from ringfence.runtime import Runtime
from ringfence.store.apitokens import ApiTokens
from ringfence.vendors.models import VendorDocument
from tests.vendors.conftest import Estate
from tests.vendors.test_api import Client, V, _send, _token
from tests.vendors.test_assessments import good_answers


@pytest.fixture
def client(runtime: Runtime, clock: FixedClock, estate: Estate) -> Iterator[Client]:
    tokens = ApiTokens(runtime.store, clock)
    rw = tokens.issue("vendor-admin", ["read", "write"], 30).token.get_secret_value()
    with TestClient(create_app(runtime), raise_server_exceptions=False) as http:
        yield Client(http, {"Authorization": f"Bearer {rw}"}, {})


def _link_answers(c: Client) -> tuple[str, dict[str, Any]]:
    path = "/api/v1/vendor-assessments/" + _token(_send(c)["link"])
    ids = [x["id"] for x in c.http.get(path).json()["questions"]]
    return path, good_answers(ids)


def test_a_link_cannot_cite_documents_it_did_not_upload(client: Client) -> None:
    filed = client.http.post(
        f"{V}/Acme Payroll/documents",
        json={"filename": "msa.pdf", "content_base64": base64.b64encode(b"%PDF msa").decode()},
        headers=client.rw,
    )
    assert filed.status_code == 201
    # Last year's link: its upload's id was handed to the respondent.
    old_path, old_answers = _link_answers(client)
    up = client.http.post(
        f"{old_path}/documents",
        json={
            "question_id": "AA-03",
            "filename": "soc2.pdf",
            "content_base64": base64.b64encode(b"%PDF 2025").decode(),
        },
    )
    assert up.status_code == 201
    old_doc = up.json()["document_id"]
    assert client.http.post(old_path, json={"answers": old_answers}).status_code == 200
    path, answers = _link_answers(client)
    for cited in (filed.json()["id"], old_doc):
        r = client.http.post(path, json={"answers": {**answers, "AA-03": cited}})
        assert r.status_code == 400, r.text
        assert r.json()["errors"] == [{"question": "AA-03", "problem": "no such uploaded document"}]
    # What this link uploaded is evidence.
    up = client.http.post(
        f"{path}/documents",
        json={
            "question_id": "AA-03",
            "filename": "soc2.pdf",
            "content_base64": base64.b64encode(b"%PDF 2026").decode(),
        },
    )
    r = client.http.post(path, json={"answers": {**answers, "AA-03": up.json()["document_id"]}})
    assert r.status_code == 200, r.text


def test_the_form_takes_a_file_only_for_an_evidence_question(
    client: Client, runtime: Runtime
) -> None:
    path, answers = _link_answers(client)
    url = path.removeprefix("/api/v1")
    data = {f"q_{k}": v for k, v in answers.items()}
    r = client.http.post(
        url, data=data, files={"f_SEF-08": ("contact.html", b"<b>x</b>", "text/html")}
    )
    assert r.status_code == 422 and "takes no file" in r.text
    with runtime.store.session() as s:
        assert s.query(VendorDocument).count() == 0
