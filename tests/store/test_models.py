"""Repository-level behaviour of the domain model on both engines."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ringfence.store.db import Store
from ringfence.store.models import (
    App,
    Credential,
    CredentialKind,
    DataFlow,
    FlowOrigin,
    Integration,
    IntegrationStatus,
    Person,
    Vendor,
)


def _seed(store: Store) -> None:
    with store.session() as s:
        owner = Person(email="ada@example.com", name="Ada")
        vendor = Vendor(name="Salesforce", domains=["salesforce.com"])
        crm = App(
            name="crm",
            vendor=vendor,
            base_urls=["https://example.my.salesforce.com"],
            clearance=3,
            data_classes=["confidential", "restricted"],
            retention_days={"restricted": 365},
            owner=owner,
        )
        wh = App(name="warehouse", vendor=Vendor(name="Snowflake"), clearance=3)
        integ = Integration(
            name="crm-to-warehouse",
            source_app=crm,
            destination_app=wh,
            owner=owner,
            client_id="crm-sync",
            scopes=["api", "refresh_token"],
            data_classes=["confidential"],
        )
        s.add_all([owner, vendor, crm, wh, integ])
        s.flush()
        s.add(
            Credential(
                name="crm-sync-secret",
                kind=CredentialKind.OAUTH_CLIENT_SECRET,
                integration=integ,
                ref="vault:crm/client-secret",
                expires_at=datetime(2027, 1, 1, tzinfo=UTC),
            )
        )
        s.add(
            DataFlow(
                name="accounts",
                source_app=crm,
                destination_app=wh,
                integration=integ,
                data_classes=["confidential"],
            )
        )


def test_inventory_round_trips_with_types(store: Store) -> None:
    _seed(store)
    with store.session() as s:
        integ = s.scalar(select(Integration).where(Integration.name == "crm-to-warehouse"))
        assert integ is not None
        assert integ.status is IntegrationStatus.ACTIVE
        assert integ.source_app is not None and integ.source_app.name == "crm"
        assert integ.destination_app.vendor.name == "Snowflake"
        assert integ.scopes == ["api", "refresh_token"]
        cred = integ.credentials[0]
        assert cred.kind is CredentialKind.OAUTH_CLIENT_SECRET
        assert cred.expires_at == datetime(2027, 1, 1, tzinfo=UTC)
        assert cred.created_at.tzinfo is not None
        crm = s.scalar(select(App).where(App.name == "crm"))
        assert crm is not None and crm.retention_days == {"restricted": 365}
        flow = s.scalar(select(DataFlow))
        assert flow is not None and flow.origin is FlowOrigin.DECLARED


def test_duplicate_names_are_refused(store: Store) -> None:
    _seed(store)
    with pytest.raises(IntegrityError), store.session() as s:
        s.add(Vendor(name="Salesforce"))
    with store.session() as s:
        assert len(s.scalars(select(Vendor)).all()) == 2


def test_app_with_unknown_vendor_is_refused(store: Store) -> None:
    with pytest.raises(IntegrityError), store.session() as s:
        s.add(App(name="ghost", vendor_id="no-such-vendor"))
    with store.session() as s:
        assert s.scalars(select(App)).all() == []


def test_vendor_with_apps_cannot_be_deleted(store: Store) -> None:
    _seed(store)
    with pytest.raises(IntegrityError), store.session() as s:
        vendor = s.scalar(select(Vendor).where(Vendor.name == "Salesforce"))
        assert vendor is not None
        s.delete(vendor)
        s.flush()


def test_status_outside_the_enum_is_refused(store: Store) -> None:
    _seed(store)
    from sqlalchemy import text

    with pytest.raises(IntegrityError), store.session() as s:
        s.execute(text("UPDATE integrations SET status = 'wide-open'"))
