"""A vendor document's data key is sealed in the document's own transaction and audited as who
uploaded it (session 13). Before, the vault wrote it in a transaction of its own, as
"ringfence": a rolled-back upload left a sealed key no document names, and the audit log could
not say that a questionnaire link (not Ringfence) had put it there."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import select

from ringfence.runtime import Runtime
from ringfence.store.models import AuditRecord, VaultSecret
from ringfence.vendors import documents
from ringfence.vendors.models import VendorDocument
from tests.vendors.conftest import Estate
from tests.vendors.test_api import Client, _send, _token
from tests.vendors.test_session13_link_evidence import _link_answers, client  # noqa: F401

PDF = b"%PDF-1.7 SOC 2"


def _key_actors(rt: Runtime) -> list[str]:
    with rt.store.session() as s:
        return list(
            s.scalars(
                select(AuditRecord.actor)
                .where(AuditRecord.entity_id.like("vendors/documents/%"))
                .order_by(AuditRecord.seq)
            )
        )


def test_the_data_key_commits_with_the_document_and_names_the_actor(
    runtime: Runtime, estate: Estate
) -> None:
    class Refused(Exception):
        pass

    with pytest.raises(Refused), runtime.store.session() as s:
        documents.store_document(
            s, runtime.vault, runtime.clock, vendor_id=estate.vendor_id, filename="a.pdf",
            content=PDF, actor="user:ada",
        )  # fmt: skip
        raise Refused  # the caller's transaction rolls back: the key goes with the row
    with runtime.store.session() as s:
        assert s.scalar(select(VaultSecret.id)) is None
        assert s.scalar(select(VendorDocument.id)) is None
    assert _key_actors(runtime) == []
    with runtime.store.session() as s:
        row = documents.store_document(
            s, runtime.vault, runtime.clock, vendor_id=estate.vendor_id, filename="a.pdf",
            content=PDF, actor="user:ada",
        )  # fmt: skip
        key_ref = row.key_ref
    assert runtime.vault.exists(key_ref)
    assert _key_actors(runtime) == ["user:ada"]


def test_a_link_upload_key_is_audited_as_the_vendor_link(
    client: Client,  # noqa: F811
    runtime: Runtime,
) -> None:
    path = "/api/v1/vendor-assessments/" + _token(_send(client)["link"])
    up = client.http.post(
        f"{path}/documents",
        json={
            "question_id": "AA-03",
            "filename": "soc2.pdf",
            "content_base64": base64.b64encode(PDF).decode(),
        },
    )
    assert up.status_code == 201, up.text
    assert _key_actors(runtime) == ["vendor-link:Acme Payroll"]


def test_a_form_submission_key_is_audited_as_the_vendor_link(
    client: Client,  # noqa: F811
    runtime: Runtime,
) -> None:
    path, answers = _link_answers(client)
    data = {f"q_{k}": v for k, v in answers.items() if k != "AA-03"}
    r = client.http.post(
        path.removeprefix("/api/v1"),
        data=data,
        files={"f_AA-03": ("soc2.pdf", PDF, "application/pdf")},
    )
    assert r.status_code == 200, r.text
    assert _key_actors(runtime) == ["vendor-link:Acme Payroll"]
    with runtime.store.session() as s:
        assert s.query(VendorDocument).count() == 1


def test_a_staff_upload_names_its_uploader_on_the_data_key(
    runtime: Runtime, estate: Estate
) -> None:
    from ringfence.vendors import service

    with runtime.store.session() as s:
        from ringfence.store.models import Vendor

        name = s.get(Vendor, estate.vendor_id).name  # type: ignore[union-attr]
    service.upload_document(runtime, "user:grace", name, filename="soc2.pdf", content=PDF)
    assert _key_actors(runtime) == ["user:grace"]
