"""The 0005_vendors branch migrates on SQLite and PostgreSQL and keeps foreign keys."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from ringfence.store.db import Store
from ringfence.store.models import Vendor
from ringfence.vendors.models import Certification, CertKind, VendorContact, VendorProfile

TABLES = {
    "vendor_profiles",
    "vendor_contacts",
    "vendor_assessments",
    "vendor_documents",
    "vendor_certifications",
    "vendor_contracts",
    "vendor_pentests",
    "vendor_pentest_findings",
}


def test_vendor_tables_migrate_roundtrip_and_keep_foreign_keys(store: Store) -> None:
    assert "0005_vendors" in store.current_revisions()
    assert set(inspect(store.engine).get_table_names()) >= TABLES
    with store.session() as s:
        v = Vendor(name="Roundtrip Inc")
        s.add(v)
        s.flush()
        p = VendorProfile(vendor_id=v.id, domains=["r.example"], services=["storage"])
        p.contacts = [VendorContact(name="Sec", email="sec@r.example", escalation_order=1)]
        s.add(p)
        s.add(Certification(vendor_id=v.id, kind=CertKind.ISO27001, expires_on=date(2027, 1, 1)))
    with store.session() as s:
        got = s.query(VendorProfile).one()
        assert got.domains == ["r.example"]
        assert got.contacts[0].email == "sec@r.example"
        assert s.query(Certification).one().expires_on == date(2027, 1, 1)
    # A profile needs an existing vendor (foreign key), on both engines.
    with pytest.raises(IntegrityError), store.session() as s:
        s.add(VendorProfile(vendor_id="00000000-0000-0000-0000-000000000000"))
        s.flush()
    # The foundation table is referenced, never altered.
    cols = {c["name"] for c in inspect(store.engine).get_columns("vendors")}
    assert cols == {"id", "name", "website", "domains", "description", "created_at", "updated_at"}
