"""Session 14: posture caps a SOC 2 report's currency as the vendor score does.

A SOC 2 row stored before 5e5a800 may carry an ``expires_on`` far past ``period_end`` + 365
days; the score counts it only until that cap (``vendors.schemas.soc2_cap``), and RF-VND-002
must see the same date, not the stored one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from ringfence.core.clock import FixedClock
from ringfence.inventory import apply_estate, parse_estate
from ringfence.posture import run_checks
from ringfence.posture.loader import load_context
from ringfence.store.db import Store
from ringfence.store.models import Vendor
from ringfence.vendors.models import Certification, CertKind

NOW = datetime(2026, 11, 27, tzinfo=UTC)
ESTATE = """
apiVersion: ringfence/v1
vendors:
  - {name: Acme}
apps:
  - {name: Payroll, vendor: Acme, base_urls: ["https://payroll.acme.example"]}
"""


@pytest.fixture
def vendor_store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'posture.db'}")
    s.migrate()
    apply_estate(
        s,
        parse_estate(ESTATE),
        clock=FixedClock(NOW),
    )
    yield s
    s.dispose()


def _add(store: Store, **fields: object) -> None:
    with store.session() as s:
        vendor_id = s.query(Vendor.id).filter(Vendor.name == "Acme").scalar()
        s.add(Certification(vendor_id=vendor_id, **fields))


def _certs(store: Store) -> tuple[tuple[str, date | None], ...]:
    with store.session() as s:
        ctx = load_context(s, NOW)
    assert ctx.vendors is not None
    (acme,) = [v for v in ctx.vendors if v.name == "Acme"]
    return acme.certifications


def _vnd_002(store: Store) -> str:
    with store.session() as s:
        report = run_checks(load_context(s, NOW))
    (result,) = [r for r in report.results if r.meta.id == "RF-VND-002"]
    return result.status


@pytest.mark.parametrize("kind", [CertKind.SOC2_TYPE2, CertKind.SOC2_TYPE1])
def test_a_stored_far_future_soc2_expiry_counts_only_until_the_cap(
    vendor_store: Store, kind: CertKind
) -> None:
    _add(
        vendor_store,
        kind=kind,
        period_start=date(2023, 1, 1),
        period_end=date(2023, 12, 31),
        expires_on=date(2099, 12, 31),
    )
    assert _certs(vendor_store) == ((kind.value, date(2024, 12, 30)),)
    assert _vnd_002(vendor_store) == "fail"


def test_an_earlier_expiry_and_other_kinds_keep_their_date(vendor_store: Store) -> None:
    _add(
        vendor_store,
        kind=CertKind.SOC2_TYPE2,
        period_start=date(2026, 1, 1),
        period_end=date(2026, 6, 30),
        expires_on=date(2027, 1, 31),  # a withdrawn report: shorter than the cap stays
    )
    _add(vendor_store, kind=CertKind.ISO27001, expires_on=date(2099, 12, 31))
    assert sorted(_certs(vendor_store)) == [
        ("iso27001", date(2099, 12, 31)),
        ("soc2_type2", date(2027, 1, 31)),
    ]
    assert _vnd_002(vendor_store) == "pass"
