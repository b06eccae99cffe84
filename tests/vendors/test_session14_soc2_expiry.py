"""Session 14: an explicit expires_on cannot keep a SOC 2 report current past 12 months."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient

from ringfence.api import create_app
from ringfence.core.clock import FixedClock
from ringfence.inventory.estate import EstateInvalid, parse_estate
from ringfence.runtime import Runtime
from ringfence.store.apitokens import ApiTokens
from ringfence.vendors import evidence
from ringfence.vendors.models import Certification, CertKind
from tests.vendors.conftest import Estate

V = "/api/v1/vendor-risk"


@pytest.fixture
def http(runtime: Runtime, clock: FixedClock, estate: Estate) -> Iterator[TestClient]:
    token = ApiTokens(runtime.store, clock).issue("vendor-admin", ["read", "write"], 30)
    headers = {"Authorization": f"Bearer {token.token.get_secret_value()}"}
    with TestClient(create_app(runtime), raise_server_exceptions=False, headers=headers) as c:
        yield c


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "soc2_type2", "period_start": "2024-01-01", "period_end": "2024-12-31"},
        {"kind": "soc2_type1", "period_end": "2024-12-31"},
    ],
)
def test_an_expiry_past_twelve_months_is_refused(http: TestClient, body: dict[str, str]) -> None:
    r = http.post(f"{V}/Acme Payroll/certifications", json={**body, "expires_on": "2099-12-31"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "expires_on" in r.text and "2025-12-31" in r.text and "12 months" in r.text
    # The cap itself and an earlier date (a withdrawn report) are accepted.
    for day in ("2025-12-31", "2025-03-01"):
        r = http.post(f"{V}/Acme Payroll/certifications", json={**body, "expires_on": day})
        assert r.status_code == 201, r.text


def test_an_estate_soc2_expiry_past_twelve_months_is_a_located_error() -> None:
    text = (
        "apiVersion: ringfence/v1\nvendors:\n  - name: Payroll Co\n"
        "vendor_risk:\n  - name: Payroll Co\n    certifications:\n"
        "      - {kind: soc2_type2, period_start: 2024-01-01, period_end: 2024-12-31,\n"
        "         expires_on: 2030-01-01}\n"
    )
    with pytest.raises(EstateInvalid) as exc:
        parse_estate(text, "estate.yaml")
    assert "estate.yaml:7:" in str(exc.value) and "12 months" in str(exc.value)


def test_a_stored_row_with_a_later_expiry_counts_only_twelve_months(
    runtime: Runtime, estate: Estate
) -> None:
    with runtime.store.session() as s:
        s.add(
            Certification(
                vendor_id=estate.vendor_id,
                kind=CertKind.SOC2_TYPE2,
                period_start=date(2023, 1, 1),
                period_end=date(2023, 12, 31),
                expires_on=date(2099, 12, 31),
            )
        )
    with runtime.store.session() as s:
        (st,) = evidence.current_certifications(s, date(2026, 11, 27), estate.vendor_id)
    assert st.valid_until == date(2024, 12, 30)
    assert st.state is evidence.CertState.EXPIRED
