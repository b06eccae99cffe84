"""Session 13 review (low): a vendor_risk item the file accepts is one apply can store.

Before, a service over 120 characters, a blank service or ``protocol.hours`` over 120
characters passed validation and plan, then failed inside apply with a raw pydantic error
(the profile is stored through ProfileIn): a 500 from POST /api/v1/estate/apply and a
traceback-shaped CLI error, never a located problem.
"""

from __future__ import annotations

import pytest

from ringfence.inventory.estate import EstateInvalid, apply_estate, parse_estate
from ringfence.runtime import Runtime
from ringfence.vendors import service

BASE = (
    "apiVersion: ringfence/v1\nvendors:\n  - name: Payroll Co\nvendor_risk:\n  - name: Payroll Co\n"
)
LONG = "x" * 121


@pytest.mark.parametrize(
    ("snippet", "where"),
    [
        (f"    services: [{LONG}]\n", "estate.yaml:6:16: vendor_risk[0] (Payroll Co).services[0]"),
        ("    services: ['   ']\n", "estate.yaml:5:"),
        (f"    protocol: {{hours: {LONG}}}\n", "estate.yaml:6:23: vendor_risk[0] (Payroll Co)"),
    ],
)
def test_a_profile_apply_could_not_store_is_a_located_problem(
    runtime: Runtime, snippet: str, where: str
) -> None:
    with pytest.raises(EstateInvalid) as exc:
        parse_estate(BASE + snippet, "estate.yaml")
    assert str(exc.value).startswith(where), str(exc.value)
    assert LONG not in str(exc.value)  # never echoes the value


def test_a_service_of_120_characters_is_stored(runtime: Runtime) -> None:
    text = BASE + f"    services: [{'s' * 120}]\n"
    apply_estate(runtime.store, parse_estate(text, "estate.yaml"), actor="t", clock=runtime.clock)
    assert service.vendor_detail(runtime, "Payroll Co")["profile"]["services"] == ["s" * 120]
