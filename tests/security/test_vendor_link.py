"""The public questionnaire link accepts evidence uploads from anyone holding it; the number
of documents one link can store is bounded (each is up to the body cap, encrypted, with a
vault data key), so a leaked or abused link cannot fill the store."""

from __future__ import annotations

import base64

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ringfence.runtime import Runtime
from ringfence.store.models import Vendor
from ringfence.vendors import assessments as asm
from ringfence.vendors.api import MAX_LINK_DOCUMENTS
from ringfence.vendors.bank import AnswerType
from ringfence.vendors.models import VendorDocument


def test_evidence_uploads_per_link_are_bounded(client: TestClient, runtime: Runtime) -> None:
    with runtime.store.session() as s:
        vendor = Vendor(name="Acme")
        s.add(vendor)
        s.flush()
        sent = asm.send(s, vendor, runtime.clock, template="full")
        qid = next(q.id for q in asm.questions_of(sent.assessment) if q.type is AnswerType.EVIDENCE)
        token = sent.token
    body = {
        "question_id": qid,
        "filename": "soc2.pdf",
        "content_base64": base64.b64encode(b"%PDF-1.7 evidence").decode(),
    }
    url = f"/api/v1/vendor-assessments/{token}/documents"
    for _ in range(MAX_LINK_DOCUMENTS):
        assert client.post(url, json=body).status_code == 201
    refused = client.post(url, json=body)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "too_many_documents"
    with runtime.store.session() as s:
        stored = s.scalar(select(func.count()).select_from(VendorDocument))
    assert stored == MAX_LINK_DOCUMENTS
