"""Session 14: a vendor may not be named like a literal route beside /vendor-risk/{vendor}.

``document-uploads``, ``documents``, ``reminders``... are routes of their own under
``/api/v1/vendor-risk/``: a vendor of that name could not be reached by name there (and
``POST …/document-uploads/documents`` is the raw upload for a vendor named ``documents``).
Refused at creation over REST and in ringfence.yaml (so ``ringfence apply``); one stored
before is reported by the vendor-risk list, never blocks an unrelated apply.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ringfence.core.reserved import RESERVED
from ringfence.inventory import apply_estate, parse_estate
from ringfence.inventory.estate import EstateInvalid, plan_estate
from ringfence.runtime import Runtime
from ringfence.store.models import Vendor
from tests.vendors.test_api import Client, V, client  # noqa: F401
from tests.vendors.test_cli import data_dir, run  # noqa: F401

RESERVED_VENDOR_NAMES = [
    "assessments",
    "document-uploads",
    "documents",
    "questions",
    "reminders",
    "renewals",
]


def _refused(r: object, field: str = "name") -> str:
    assert r.status_code == 422, r.text  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert body["code"] == "validation_error"
    assert body["errors"][0]["field"] == field
    detail = str(body["detail"])
    assert "reserved" in detail and ", ".join(RESERVED_VENDOR_NAMES) in detail
    return detail


@pytest.mark.parametrize("name", [*RESERVED_VENDOR_NAMES, "documents/01abc"])
def test_a_vendor_named_like_a_route_is_refused_over_rest(
    client: Client,  # noqa: F811
    name: str,
) -> None:
    r = client.http.post("/api/v1/vendors", json={"name": name}, headers=client.rw)
    _refused(r)
    # Renaming into one is the same collision.
    r = client.http.patch("/api/v1/vendors/Acme Payroll", json={"name": name}, headers=client.rw)
    _refused(r)


def test_names_that_only_contain_a_reserved_word_are_fine(client: Client) -> None:  # noqa: F811
    for name in ("Documents Inc", "reminders.io", "Questions"):
        r = client.http.post("/api/v1/vendors", json={"name": name}, headers=client.rw)
        assert r.status_code == 201, r.text


def test_the_table_lists_exactly_these_names() -> None:
    assert sorted(RESERVED["vendor"].names) == RESERVED_VENDOR_NAMES


def test_ringfence_yaml_creating_such_a_vendor_is_a_located_error(runtime: Runtime) -> None:
    text = "apiVersion: ringfence/v1\nvendors:\n  - name: Fine Co\n  - name: document-uploads\n"
    with runtime.store.session() as s, pytest.raises(EstateInvalid) as exc:
        plan_estate(s, parse_estate(text, "estate.yaml"))
    message = str(exc.value)
    assert "estate.yaml:4:" in message and "reserved" in message and "reminders" in message
    with runtime.store.session() as s:
        assert s.query(Vendor).filter(Vendor.name == "Fine Co").count() == 0


def test_cli_apply_refuses_it_and_changes_nothing(
    tmp_path: Path,
    data_dir: str,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    estate = tmp_path / "estate.yaml"
    estate.write_text("apiVersion: ringfence/v1\nvendors:\n  - name: reminders\n")
    code, out, err = run(["apply", "-f", str(estate), "--data-dir", data_dir], capsys)
    assert code != 0
    assert "reserved" in out + err and "Traceback" not in out + err


def test_a_vendor_stored_before_is_reported_and_does_not_block_apply(
    client: Client,  # noqa: F811
    runtime: Runtime,
) -> None:
    with runtime.store.session() as s:
        s.add(Vendor(name="reminders"))
    listed = client.http.get(V, headers=client.ro).json()
    by_name = {row["vendor"]: row for row in listed}
    assert "reserved" in by_name["reminders"]["name_problem"]
    assert by_name["Acme Payroll"]["name_problem"] is None
    # A file that declares it as stored (and adds another vendor) still plans and applies.
    names = ["Acme Payroll", "Acme Payroll customer", "reminders", "New Co"]
    text = "apiVersion: ringfence/v1\nvendors:\n" + "".join(f"  - name: {n}\n" for n in names)
    plan = apply_estate(runtime.store, parse_estate(text))
    assert ("create", "New Co") in [(c.action, c.name) for c in plan.changes]
