"""Session 13 review (medium): deleting a vendor never silently destroys its vendor-risk records.

Before, a DELETE /api/v1/vendors/{ref}, or a ringfence.yaml that dropped or renamed the vendor,
cascaded away the questionnaires it answered (with their answers), its encrypted evidence
documents (leaving their data keys in the vault), and certifications, contracts and pentests
made through the API — with one ``vendor.delete`` audit record.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ringfence.api import create_app
from ringfence.core.clock import FixedClock
from ringfence.core.errors import ConflictError
from ringfence.inventory.estate import apply_estate, parse_estate
from ringfence.runtime import Runtime
from ringfence.store.apitokens import ApiTokens
from ringfence.store.models import Vendor
from ringfence.vendors import assessments as asm
from ringfence.vendors import documents
from ringfence.vendors.models import Assessment, VendorDocument, VendorProfile
from tests.vendors.test_assessments import good_answers

BASE = "apiVersion: ringfence/v1\nvendors:\n  - name: Payroll Co\n  - name: Chat Co\n"
RISK = "vendor_risk:\n  - name: Payroll Co\n    tier: high\n"


def _apply(rt: Runtime, text: str) -> None:
    apply_estate(rt.store, parse_estate(text, "estate.yaml"), actor="t", clock=rt.clock)


def _answered_and_filed(rt: Runtime, name: str) -> None:
    """A questionnaire the vendor answered by link, and an evidence document."""
    with rt.store.session() as s:
        vendor = s.scalars(select(Vendor).where(Vendor.name == name)).one()
        sent = asm.send(s, vendor, rt.clock, template="lite")
        token, vendor_id = sent.token, vendor.id
    with rt.store.session() as s:
        ids = list(s.get_one(Assessment, sent.assessment.id).question_ids)
        asm.submit_by_token(s, token, good_answers(ids), rt.clock)
    with rt.store.session() as s:
        documents.store_document(
            s, rt.vault, rt.clock, vendor_id=vendor_id, filename="soc2.pdf", content=b"%PDF"
        )


def _counts(rt: Runtime) -> tuple[int, int]:
    with rt.store.session() as s:
        return (
            int(s.scalar(select(func.count()).select_from(Assessment)) or 0),
            int(s.scalar(select(func.count()).select_from(VendorDocument)) or 0),
        )


@pytest.fixture
def http(runtime: Runtime, clock: FixedClock) -> Iterator[TestClient]:
    token = ApiTokens(runtime.store, clock).issue("admin", ["read", "write"], 30)
    headers = {"Authorization": f"Bearer {token.token.get_secret_value()}"}
    with TestClient(create_app(runtime), raise_server_exceptions=False, headers=headers) as c:
        yield c


def test_the_api_refuses_to_delete_a_vendor_holding_evidence(
    http: TestClient, runtime: Runtime
) -> None:
    _apply(runtime, BASE)
    _answered_and_filed(runtime, "Payroll Co")
    r = http.delete("/api/v1/vendors/Payroll Co")
    assert r.status_code == 409, r.text
    problem = r.json()
    assert problem["code"] == "still_referenced"
    assert "1 vendor_assessment(s)" in problem["detail"]
    assert "1 vendor_document(s)" in problem["detail"]
    assert _counts(runtime) == (1, 1)
    # A vendor without such records is deleted as before.
    assert http.delete("/api/v1/vendors/Chat Co").status_code == 204


def test_renaming_a_vendor_in_the_estate_file_keeps_its_evidence(runtime: Runtime) -> None:
    _apply(runtime, BASE)
    _answered_and_filed(runtime, "Payroll Co")
    renamed = BASE.replace("Payroll Co", "Payroll Company")
    with pytest.raises(ConflictError, match="'Payroll Co' cannot be deleted: it holds"):
        _apply(runtime, renamed)
    assert _counts(runtime) == (1, 1)
    with runtime.store.session() as s:
        assert s.scalar(select(Vendor.id).where(Vendor.name == "Payroll Co")) is not None


def test_a_vendor_whose_records_the_file_made_is_still_deleted_with_them(
    runtime: Runtime,
) -> None:
    _apply(runtime, BASE + RISK)
    # Dropped from both sections: vendor_risk removes its own rows first, then the vendor goes.
    _apply(runtime, "apiVersion: ringfence/v1\nvendors:\n  - name: Chat Co\nvendor_risk: []\n")
    with runtime.store.session() as s:
        assert s.scalar(select(func.count()).select_from(VendorProfile)) == 0
        assert list(s.scalars(select(Vendor.name))) == ["Chat Co"]


def test_a_vendor_with_only_a_risk_profile_is_deleted_with_it(
    http: TestClient, runtime: Runtime
) -> None:
    # The profile (tier, contacts) is the vendor's settings, not evidence: it goes along.
    _apply(runtime, BASE)
    r = http.put("/api/v1/vendor-risk/Chat Co/profile", json={"tier": "low"})
    assert r.status_code == 200
    assert http.delete("/api/v1/vendors/Chat Co").status_code == 204
    with runtime.store.session() as s:
        assert s.scalar(select(func.count()).select_from(VendorProfile)) == 0
