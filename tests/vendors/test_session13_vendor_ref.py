"""Session 13 review (low-medium): a vendor reference resolves id first, then name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ringfence.api import create_app
from ringfence.core.clock import FixedClock
from ringfence.inventory.estate import apply_estate, parse_estate
from ringfence.runtime import Runtime
from ringfence.store.apitokens import ApiTokens
from ringfence.store.models import Vendor
from ringfence.vendors.models import Certification, VendorProfile
from tests.vendors.conftest import Estate

V = "/api/v1/vendor-risk"


@pytest.fixture
def http(runtime: Runtime, clock: FixedClock, estate: Estate) -> Iterator[TestClient]:
    token = ApiTokens(runtime.store, clock).issue("vendor-admin", ["read", "write"], 30)
    headers = {"Authorization": f"Bearer {token.token.get_secret_value()}"}
    with TestClient(create_app(runtime), raise_server_exceptions=False, headers=headers) as c:
        yield c


def test_a_vendor_named_after_another_vendors_id_draws_nothing_of_it(
    http: TestClient, runtime: Runtime, estate: Estate
) -> None:
    # The API and ringfence.yaml refuse such a name now (409 ambiguous_name); one stored
    # before that still must not be taken for the other.
    r = http.post("/api/v1/vendors", json={"name": estate.vendor_id})
    assert r.status_code == 409 and r.json()["code"] == "ambiguous_name", r.text
    impostor = _stored_impostor(runtime, estate)
    # By id: the vendor with that id, never the one merely named so.
    detail = http.get(f"{V}/{estate.vendor_id}")
    assert detail.status_code == 200 and detail.json()["vendor"] == "Acme Payroll"
    score = http.get(f"{V}/{estate.vendor_id}/score")
    assert score.status_code == 200 and score.json()["vendor_id"] == estate.vendor_id
    # By name: no 500 from two rows matching.
    assert http.get(f"{V}/Acme Payroll").status_code == 200
    assert http.get(f"{V}/Acme Payroll/score").json()["vendor_id"] == estate.vendor_id
    # Writes by id land on that vendor.
    cert = {"kind": "iso27001", "expires_on": "2027-01-01"}
    added = http.post(f"{V}/{estate.vendor_id}/certifications", json=cert)
    assert added.status_code == 201
    with runtime.store.session() as s:
        row = s.get_one(Certification, added.json()["id"])
        assert row.vendor_id == estate.vendor_id != impostor
    # The impostor is still reachable by its own id.
    assert http.get(f"{V}/{impostor}").json()["vendor"] == estate.vendor_id


def _stored_impostor(runtime: Runtime, estate: Estate) -> str:
    with runtime.store.session() as s:
        row = Vendor(name=estate.vendor_id)
        s.add(row)
        s.flush()
        return row.id


def test_the_estate_section_names_vendors_by_name_only(runtime: Runtime, estate: Estate) -> None:
    _stored_impostor(runtime, estate)  # (the file would refuse to create it)
    # ringfence.yaml refers by name: a vendor named after another vendor's id gets the
    # declared profile, never the vendor whose id its name spells.
    text = (
        "apiVersion: ringfence/v1\nvendors:\n  - name: Acme Payroll\n"
        "  - name: Acme Payroll customer\n"
        f"  - name: {estate.vendor_id}\n"
        f"vendor_risk:\n  - name: {estate.vendor_id}\n    tier: critical\n"
    )
    apply_estate(runtime.store, parse_estate(text, "estate.yaml"), actor="t", clock=runtime.clock)
    with runtime.store.session() as s:
        named = s.scalars(select(Vendor).where(Vendor.name == estate.vendor_id)).one()
        profiles = {p.vendor_id: p.tier.value for p in s.scalars(select(VendorProfile))}
    assert profiles == {named.id: "critical"}
