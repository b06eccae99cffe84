"""examples/estate.yaml applies cleanly, on both engines, and is the estate the issue asks for."""

from __future__ import annotations

from sqlalchemy import func, select

from ringfence.core.levels import DataClass
from ringfence.inventory.estate import (
    apply_estate,
    export_estate,
    load_estate,
    parse_estate,
    plan_estate,
)
from ringfence.inventory.views import Filters, Kind, list_rows, show
from ringfence.runtime import Runtime
from ringfence.store.models import (
    App,
    Credential,
    DataFlow,
    Integration,
    IntegrationStatus,
    Person,
    Vendor,
)
from tests.inventory.helpers import EXAMPLE


def test_example_estate_is_realistic() -> None:
    estate = load_estate(EXAMPLE)
    apps = estate.sections["apps"]
    integrations = estate.sections["integrations"]
    flows = estate.sections["flows"]
    assert estate.metadata.name == "Northwind Analytics"
    assert len(apps) >= 20
    assert len(estate.sections["vendors"]) >= 15
    assert len({a.vendor for a in apps}) >= 15  # type: ignore[attr-defined]
    assert len(integrations) >= 30
    assert all(i.owner and i.scopes for i in integrations)  # type: ignore[attr-defined]
    assert sum(1 for i in integrations if i.kind == "service_account") >= 3  # type: ignore[attr-defined]
    assert sum(1 for a in apps if not a.sanctioned) >= 2  # type: ignore[attr-defined]
    classes = {c for f in flows for c in f.data_classes}  # type: ignore[attr-defined]
    assert classes == {c.label for c in DataClass}
    categories = {a.category for a in apps}  # type: ignore[attr-defined]
    for needed in (
        "crm",
        "marketing_automation",
        "hris",
        "payroll",
        "erp",
        "payments",
        "support_desk",
        "chat",
        "code_hosting",
        "ticketing",
        "identity_provider",
        "e_signature",
        "data_warehouse",
        "file_storage",
        "video_meetings",
        "bi",
        "ci_cd",
        "monitoring",
        "password_manager",
    ):
        assert needed in categories, needed
    sanctioned = [a for a in apps if a.sanctioned]  # type: ignore[attr-defined]
    assert all(a.retention_days for a in sanctioned)  # type: ignore[attr-defined]
    refs = [c.ref for c in estate.sections["credentials"]]  # type: ignore[attr-defined]
    assert any(r.startswith("vault:") for r in refs) and any(r.startswith("${env:") for r in refs)


def test_example_estate_applies_cleanly_and_round_trips(any_runtime: Runtime) -> None:
    rt = any_runtime
    estate = load_estate(EXAMPLE)
    plan = apply_estate(rt.store, estate, clock=rt.clock)
    total = sum(estate.count(k) for k in estate.sections)
    assert plan.counts() == {"create": total, "update": 0, "delete": 0}
    with rt.store.session() as s:

        def count(model: object) -> int:
            return int(s.scalar(select(func.count()).select_from(model)) or 0)  # type: ignore[arg-type]

        assert count(Person) == estate.count("people") == 24
        assert count(Vendor) == estate.count("vendors") == 23
        assert count(App) == estate.count("apps") == 27
        assert count(Integration) == estate.count("integrations") == 39
        assert count(Credential) == estate.count("credentials") == 40
        assert count(DataFlow) == estate.count("flows") == 30
        statuses = dict(
            s.execute(select(Integration.status, func.count()).group_by(Integration.status)).all()
        )
        assert statuses[IntegrationStatus.QUARANTINED] == 1
        assert statuses[IntegrationStatus.REVOKED] == 1
    with rt.store.session() as s:
        unsanctioned = list_rows(s, Kind.APPS, Filters(status="unsanctioned"))
        assert {r["name"] for r in unsanctioned} == {"Dropbox", "Zapier", "Otter.ai"}
        quarantined = list_rows(s, Kind.INTEGRATIONS, Filters(status="quarantined"))
        assert [r["name"] for r in quarantined] == ["zapier-hubspot-leads"]
        salesforce = list_rows(s, Kind.APPS, Filters(vendor="Salesforce"))
        assert [r["name"] for r in salesforce] == [
            "Salesforce Sales Cloud",
            "Slack",
            "Tableau Cloud",
        ]
        restricted = list_rows(s, Kind.FLOWS, Filters(data_class="restricted"))
        assert len(restricted) == 4
        owned = list_rows(s, Kind.CREDENTIALS, Filters(owner="mei.lin@northwind-analytics.example"))
        assert {r["name"] for r in owned} == {
            "onepassword-scim-bearer-token",
            "okta-log-collector-private-key",
            "github-audit-app-private-key",
            "onepassword-events-bearer-token",
        }
        person = show(s, Kind.PEOPLE, "Oliver.Nguyen@northwind-analytics.example")
        assert person["owns_apps"] == ["Datadog", "PagerDuty"]
    again = apply_estate(rt.store, load_estate(EXAMPLE), clock=rt.clock)
    assert again.is_empty
    text = export_estate(rt.store)
    with rt.store.session() as s:
        assert plan_estate(s, parse_estate(text, "export.yaml")).is_empty
