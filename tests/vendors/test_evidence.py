"""Evidence: encrypted documents with SHA-256, certification validity and 60/30/7 reminders."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import pytest
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import update

from ringfence.core.clock import FixedClock
from ringfence.core.errors import IntegrityError, ValidationError
from ringfence.runtime import Runtime
from ringfence.store.models import VaultSecret, Vendor
from ringfence.vendors import documents, evidence
from ringfence.vendors.models import Certification, VendorDocument
from ringfence.vendors.schemas import CertificationIn
from tests.vendors.conftest import Estate

PDF = b"%PDF-1.7 SOC 2 report for Acme Payroll: confidential findings inside" * 20


def _store(runtime: Runtime, estate: Estate, content: bytes = PDF) -> str:
    with runtime.store.session() as s:
        row = documents.store_document(
            s,
            runtime.vault,
            runtime.clock,
            vendor_id=estate.vendor_id,
            filename="../../etc/soc2 report.pdf",
            content=content,
            content_type="application/pdf",
        )
        return row.id


def test_document_is_encrypted_at_rest_with_its_hash(runtime: Runtime, estate: Estate) -> None:
    doc_id = _store(runtime, estate)
    with runtime.store.session() as s:
        row = s.get_one(VendorDocument, doc_id)
        assert row.sha256 == hashlib.sha256(PDF).hexdigest()
        assert b"SOC 2 report" not in row.ciphertext and len(row.ciphertext) >= len(PDF)
        assert row.filename == "soc2 report.pdf"
        key_row = s.query(VaultSecret).filter_by(name=row.key_ref).one()
        assert key_row.ciphertext  # the data key is itself envelope-encrypted
        info, plain = documents.read_document(s, runtime.vault, doc_id)
    assert plain == PDF and info.size == len(PDF)


def test_tampered_document_fails_authentication(runtime: Runtime, estate: Estate) -> None:
    doc_id = _store(runtime, estate)
    with runtime.store.session() as s:
        blob = bytearray(s.get_one(VendorDocument, doc_id).ciphertext)
        blob[20] ^= 1
        s.execute(
            update(VendorDocument).where(VendorDocument.id == doc_id).values(ciphertext=bytes(blob))
        )
    with pytest.raises(IntegrityError), runtime.store.session() as s:
        documents.read_document(s, runtime.vault, doc_id)


def test_documents_survive_master_key_rotation(runtime: Runtime, estate: Estate) -> None:
    doc_id = _store(runtime, estate)
    runtime.vault.rotate_master()
    with runtime.store.session() as s:
        assert documents.read_document(s, runtime.vault, doc_id)[1] == PDF


@pytest.mark.parametrize("content", [b"", b"x" * (documents.MAX_DOCUMENT_BYTES + 1)])
def test_empty_or_oversized_document_is_refused(
    runtime: Runtime, estate: Estate, content: bytes
) -> None:
    with pytest.raises(ValidationError):
        _store(runtime, estate, content)


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "soc2_type2", "period_end": "2026-01-01"},
        {"kind": "soc2_type1"},
        {"kind": "iso27001"},
        {"kind": "pci_dss"},
        {"kind": "other"},
        {"kind": "iso27001", "issued_on": "2026-02-01", "expires_on": "2026-01-01"},
        {"kind": "soc2_type2", "period_start": "2026-02-01", "period_end": "2026-01-01"},
        {"kind": "hipaa", "expires_on": "2027-01-01"},
    ],
)
def test_certification_input_is_validated(data: dict[str, str]) -> None:
    with pytest.raises(PydanticValidationError):
        CertificationIn.model_validate(data)


def _cert(runtime: Runtime, estate: Estate, **data: object) -> str:
    with runtime.store.session() as s:
        vendor = s.get_one(Vendor, estate.vendor_id)
        return evidence.add_certification(s, vendor, CertificationIn.model_validate(data)).id


def test_soc2_is_current_for_twelve_months_after_its_period(
    runtime: Runtime, estate: Estate
) -> None:
    _cert(runtime, estate, kind="soc2_type2", period_start="2024-10-01", period_end="2025-09-30")
    with runtime.store.session() as s:
        st = evidence.current_certifications(s, date(2026, 1, 1), estate.vendor_id)
    assert st[0].valid_until == date(2026, 9, 30) and st[0].state is evidence.CertState.VALID
    with runtime.store.session() as s:
        # The derived end is stored, so SQL readers of expires_on see the same date.
        assert s.query(Certification).one().expires_on == date(2026, 9, 30)
    with runtime.store.session() as s:
        st = evidence.current_certifications(s, date(2026, 11, 10), estate.vendor_id)
    assert st[0].state is evidence.CertState.EXPIRED and st[0].days_left == -41


def test_newest_certificate_of_a_kind_replaces_the_expired_one(
    runtime: Runtime, estate: Estate
) -> None:
    _cert(runtime, estate, kind="iso27001", expires_on="2025-06-01")
    _cert(runtime, estate, kind="iso27001", expires_on="2028-06-01")
    with runtime.store.session() as s:
        st = evidence.current_certifications(s, date(2026, 1, 1), estate.vendor_id)
    assert len(st) == 1 and st[0].valid


@pytest.mark.parametrize(
    ("days_left", "stage"),
    [(90, None), (61, None), (60, 60), (45, 60), (30, 30), (8, 30), (7, 7), (0, 7), (-1, None)],
)
def test_reminders_at_60_30_and_7_days(
    runtime: Runtime, estate: Estate, clock: FixedClock, days_left: int, stage: int | None
) -> None:
    today = clock.now().date()
    _cert(runtime, estate, kind="iso27001", expires_on=today + timedelta(days=days_left))
    with runtime.store.session() as s:
        due = evidence.due_reminders(s, clock)
    if stage is None:
        assert due == []
    else:
        assert [(r.stage, r.days_left) for r in due] == [(stage, days_left)]
        assert "Acme Payroll: ISO/IEC 27001 expires on" in due[0].message
        assert due[0].key.endswith(f":{stage}")


def test_three_reminders_over_a_certificate_lifetime(
    runtime: Runtime, estate: Estate, clock: FixedClock
) -> None:
    _cert(runtime, estate, kind="pci_dss", expires_on=clock.now().date() + timedelta(days=100))
    keys: set[str] = set()
    for _ in range(110):
        with runtime.store.session() as s:
            keys |= {r.key for r in evidence.due_reminders(s, clock)}
        clock.advance(days=1)
    assert sorted(k.split(":")[1] for k in keys) == ["30", "60", "7"]
