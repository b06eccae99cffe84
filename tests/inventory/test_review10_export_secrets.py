"""Review 10 finding #5: no plaintext secret is taken in through the inventory repository
(REST API, imports) nor written out by ``ringfence export``.

Before: ``ringfence.yaml`` refused a vendor website with ``user:password@`` or a description
holding a GitHub token, but the repository behind ``POST /api/v1/vendors`` stored them, and
export wrote them verbatim into the file that GitOps commits to git (which then no longer
validated either).
"""

from __future__ import annotations

import pytest
from sqlalchemy import update

from ringfence.inventory.estate import apply_estate, export_estate, parse_estate
from ringfence.inventory.repository import InvalidFieldError, InventoryRepository
from ringfence.runtime import Runtime
from ringfence.store.models import App, Vendor

TOKEN = "ghp_" + "a1B2c3D4e5" * 4
PASSWORD = "hunter2-Xy9"


@pytest.mark.parametrize(
    ("kind", "values", "field"),
    [
        (
            "vendor",
            {"name": "Acme", "website": f"https://admin:{PASSWORD}@acme.example/"},
            "website",
        ),
        ("vendor", {"name": "Acme", "description": f"deploy token {TOKEN}"}, "description"),
        (
            "app",
            {"name": "CRM", "base_urls": [f"https://u:{PASSWORD}@api.acme.example"]},
            "base_urls",
        ),
    ],
)
def test_the_repository_refuses_inline_secrets_in_plain_fields(
    runtime: Runtime, kind: str, values: dict[str, object], field: str
) -> None:
    with runtime.store.session() as s:
        repo = InventoryRepository(s, actor="api", clock=runtime.clock)
        if kind == "app":
            repo.create("vendor", {"name": "Acme"})
            values = {**values, "vendor": "Acme"}
        with pytest.raises(InvalidFieldError) as info:
            repo.create(kind, values)
    assert info.value.code == "inline_secret"
    assert field in str(info.value)
    assert PASSWORD not in str(info.value) and TOKEN not in str(info.value)


def test_the_repository_refuses_them_on_update_too(runtime: Runtime) -> None:
    with runtime.store.session() as s:
        repo = InventoryRepository(s, actor="api", clock=runtime.clock)
        repo.create("vendor", {"name": "Acme", "website": "https://acme.example"})
        with pytest.raises(InvalidFieldError):
            repo.update("vendor", "Acme", {"description": f"token {TOKEN}"})


def test_export_never_writes_a_stored_secret(any_runtime: Runtime) -> None:
    rt = any_runtime
    apply_estate(
        rt.store,
        parse_estate(
            "apiVersion: ringfence/v1\nvendors: [{name: Acme}]\napps: [{name: CRM, vendor: Acme}]\n"
        ),
        clock=rt.clock,
    )
    with rt.store.session() as s:  # rows stored before the repository refused such values
        s.execute(
            update(Vendor).values(
                website=f"https://admin:{PASSWORD}@acme.example/",
                description=f"deploy token {TOKEN}",
            )
        )
        s.execute(update(App).values(base_urls=[f"https://u:{PASSWORD}@api.acme.example"]))
    text = export_estate(rt.store)
    assert PASSWORD not in text and TOKEN not in text
    assert "3 value(s) in the store look like secrets and were redacted" in text
    assert "vendors[Acme].website" in text and "apps[CRM].base_urls" in text
    assert "https://acme.example/" in text and "https://api.acme.example" in text
    # the exported file is a valid ringfence.yaml again, and its plan shows the clean-up
    estate = parse_estate(text, "export.yaml")
    assert estate.count("vendors") == 1
