"""Fixtures for vendor-risk tests: a small estate of vendors, apps and integrations."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ringfence.runtime import Runtime
from ringfence.store.models import App, DataFlow, FlowOrigin, Integration, Vendor


@dataclass
class Estate:
    vendor_id: str
    app_id: str
    crm_id: str


def make_estate(runtime: Runtime, name: str = "Acme Payroll") -> Estate:
    with runtime.store.session() as s:
        home = Vendor(name=f"{name} customer")
        vendor = Vendor(name=name, domains=["acme.example"])
        s.add_all([home, vendor])
        s.flush()
        crm = App(name=f"{name} CRM", vendor_id=home.id)
        app = App(name=f"{name} app", vendor_id=vendor.id)
        s.add_all([crm, app])
        s.flush()
        return Estate(vendor.id, app.id, crm.id)


def add_integration(
    runtime: Runtime,
    estate: Estate,
    name: str,
    *,
    scopes: list[str] | None = None,
    classes: list[str] | None = None,
) -> str:
    with runtime.store.session() as s:
        integ = Integration(
            name=name,
            source_app_id=estate.crm_id,
            destination_app_id=estate.app_id,
            scopes=scopes or [],
            data_classes=classes or [],
        )
        s.add(integ)
        s.flush()
        return integ.id


def add_flow(
    runtime: Runtime, estate: Estate, name: str, classes: list[str], origin: FlowOrigin
) -> None:
    with runtime.store.session() as s:
        s.add(
            DataFlow(
                name=name,
                source_app_id=estate.crm_id,
                destination_app_id=estate.app_id,
                data_classes=classes,
                origin=origin,
            )
        )


@pytest.fixture
def estate(runtime: Runtime) -> Estate:
    return make_estate(runtime)
