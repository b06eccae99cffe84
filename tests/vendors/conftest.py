"""Fixtures for vendor-risk tests: a small estate of vendors, apps and integrations."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ringfence.core.clock import FixedClock
from ringfence.core.config import Settings, load_settings
from ringfence.runtime import Runtime, initialise
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


@pytest.fixture(scope="session")
def template_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One initialised data dir (schema at every head + master key), copied per test.

    Migrating every capability branch takes about a second; copying the SQLite file takes
    milliseconds, which keeps this directory's whole run well under its time budget.
    """
    data = tmp_path_factory.mktemp("vendors-template") / "data"
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("RINGFENCE_")}
    try:
        initialise(
            load_settings(
                data_dir=data,
                store_url=f"sqlite:///{data / 'ringfence.db'}",
                master_key_file=data / "master.key",
            )
        )
    finally:
        os.environ.update(saved)
    return data


def copy_template(template: Path, data_dir: Path) -> None:
    shutil.copytree(template, data_dir)


@pytest.fixture
def runtime(settings: Settings, clock: FixedClock, template_data_dir: Path) -> Iterator[Runtime]:
    """Like the root ``runtime`` fixture (SQLite, initialised), from the session template."""
    copy_template(template_data_dir, settings.data_dir)
    rt = Runtime.open(settings, clock=clock)
    yield rt
    rt.close()
