"""Session 14: a name a ``/{ref}`` route cannot reach is refused at creation and rename.

The server decodes ``%2F`` before routing (``a/b`` is two segments) and clients resolve dot
segments (``/apps/..`` is ``/apps``), so a vendor, app, integration, credential, flow, person
(by e-mail), console user or review campaign named with a ``/``, or ``.`` / ``..``, could only
be reached by id. One check (core.reserved.name_problem) for the REST API, ringfence.yaml (so
``ringfence apply``) and the services behind the CLI; a review campaign may not be named
``remind`` (``POST /identity/reviews/remind`` sits beside ``/reviews/{ref}``). Names stored
before are reported (``name_problem``), reachable by id, and never block an unrelated apply.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ringfence.cli.app import app as cli_app
from ringfence.core.errors import ValidationError
from ringfence.core.reserved import ADDRESSED, RESERVED, name_problem
from ringfence.identity.accounts import Accounts
from ringfence.identity.reviews import AccessReviews
from ringfence.identity.settings import IdentitySettings
from ringfence.inventory import apply_estate, parse_estate
from ringfence.inventory.estate import EstateInvalid, plan_estate
from ringfence.store.models import App, Vendor
from tests.api.conftest import Api

BAD = ["a/b", ".", "..", "../x", "x/"]

# (collection, a body creating one named NAME, an existing one to rename)
CREATE: dict[str, tuple[str, dict[str, Any], str]] = {
    "vendor": ("/api/v1/vendors", {}, "Acme"),
    "app": ("/api/v1/apps", {"vendor": "Acme"}, "Chat"),
    "integration": (
        "/api/v1/integrations",
        {"kind": "service_account", "destination_app": "Chat"},
        "chat-bot",
    ),
    "credential": (
        "/api/v1/credentials",
        {"kind": "api_key", "integration": "chat-bot", "ref": "${env:SOME_KEY}"},
        "chat-bot-key",
    ),
    "flow": ("/api/v1/flows", {"source_app": "CRM", "destination_app": "HRIS"}, "crm-hris-sync"),
}


def _refused(r: Any, field: str) -> str:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "validation_error"
    assert body["errors"][0]["field"] == field
    return str(body["detail"])


@pytest.mark.parametrize("kind", sorted(CREATE))
@pytest.mark.parametrize("name", BAD)
def test_a_name_no_url_can_reach_is_refused_over_rest(seeded: Api, kind: str, name: str) -> None:
    collection, body, existing = CREATE[kind]
    detail = _refused(seeded.post(collection, {**body, "name": name}), "name")
    assert kind in detail and ("'/'" in detail or "dot segments" in detail)
    # Renaming into one is the same problem.
    _refused(seeded.patch(f"{collection}/{existing}", {"name": name}), "name")
    assert seeded.get(f"{collection}/{existing}").status_code == 200


def test_names_with_dots_or_slashes_elsewhere_are_fine(seeded: Api) -> None:
    for name in ("a.b", "...", ".hidden", "x..y", "a\\b"):
        r = seeded.post("/api/v1/apps", {"name": name, "vendor": "Acme"})
        assert r.status_code == 201, r.text
        assert r.json()["name_problem"] is None


def test_a_person_email_with_a_slash_is_refused(seeded: Api) -> None:
    r = seeded.post("/api/v1/people", {"email": "a/b@corp.example"})
    _refused(r, "email")


def test_the_table_covers_every_route_addressing_by_name(seeded: Api) -> None:
    from fastapi.routing import iter_route_contexts

    paths = {c.path_format for c in iter_route_contexts(seeded.client.app.routes)}  # type: ignore[attr-defined]
    for kind, route in ADDRESSED.items():
        assert route in paths or any(p.startswith(route + "/") for p in paths), (kind, route)
    assert RESERVED["review campaign"].names == {"remind"}


@pytest.mark.parametrize("name", [*BAD, "remind"])
def test_a_review_campaign_must_be_reachable_by_name(seeded: Api, name: str) -> None:
    reviews = AccessReviews(seeded.runtime.store, seeded.clock)
    due = seeded.clock.now() + timedelta(days=14)
    with pytest.raises(ValidationError) as err:
        reviews.create(name, scope_kind="app", scope_ref="CRM", due_at=due, actor="user:x")
    assert "reviews/{ref}" in str(err.value)
    assert not reviews.campaigns()


def test_a_console_user_named_with_a_slash_is_refused(seeded: Api) -> None:
    with pytest.raises(ValidationError, match="'/'"):
        rt = seeded.runtime
        Accounts(rt.store, rt.vault, seeded.clock, IdentitySettings()).create_user(
            "ops/admin", roles=["security-analyst"], password="correct horse battery 9", actor="t"
        )


def test_names_stored_before_are_reported_and_reachable_by_id(seeded: Api) -> None:
    with seeded.runtime.store.session() as s:
        vendor = s.query(Vendor).filter(Vendor.name == "Acme").one()
        s.add(App(name="legacy/app", vendor_id=vendor.id))
    rows = {a["name"]: a for a in seeded.get("/api/v1/apps?limit=100").json()["items"]}
    assert "'/'" in rows["legacy/app"]["name_problem"]
    assert rows["CRM"]["name_problem"] is None
    got = seeded.get(f"/api/v1/apps/{rows['legacy/app']['id']}")
    assert got.status_code == 200 and got.json()["name_problem"]
    # An unrelated change to it (by id) still works: only names are checked, on rename.
    r = seeded.patch(f"/api/v1/apps/{rows['legacy/app']['id']}", {"category": "crm"})
    assert r.status_code == 200, r.text
    # A campaign stored under a reserved name is listed with its problem.
    from ringfence.identity.models import ReviewCampaign

    with seeded.runtime.store.session() as s:
        s.add(
            ReviewCampaign(
                name="remind",
                scope_kind="app",
                scope_id=rows["CRM"]["id"],
                status="open",
                due_at=seeded.clock.now() + timedelta(days=1),
                created_by="user:x",
            )
        )
    from ringfence.identity.reviews_api import _campaign_out  # GET /identity/reviews's rows

    campaigns = AccessReviews(seeded.runtime.store, seeded.clock).campaigns()
    listed = {c.name: _campaign_out(c) for c in campaigns}
    assert "reserved" in listed["remind"]["name_problem"]
    assert name_problem("review campaign", "q3") is None


def test_ringfence_yaml_creating_such_an_entry_is_a_located_error(seeded: Api) -> None:
    text = (
        "apiVersion: ringfence/v1\nvendors:\n  - name: Fine Co\n"
        "apps:\n  - name: ..\n    vendor: Fine Co\n"
    )
    with seeded.runtime.store.session() as s, pytest.raises(EstateInvalid) as exc:
        plan_estate(s, parse_estate(text, "estate.yaml"))
    message = str(exc.value)
    assert "estate.yaml:5:" in message and "dot segments" in message


def test_an_apply_leaving_a_stored_one_alone_still_works(seeded: Api) -> None:
    with seeded.runtime.store.session() as s:
        s.add(Vendor(name="old/vendor"))
    names = ["Acme", "Globex", "old/vendor", "New Co"]
    text = "apiVersion: ringfence/v1\nvendors:\n" + "".join(f"  - name: {n}\n" for n in names)
    plan = apply_estate(seeded.runtime.store, parse_estate(text))
    assert ("create", "New Co") in [(c.action, c.name) for c in plan.changes]


def test_cli_apply_refuses_it_and_exits_non_zero(tmp_path: Path, seeded: Api) -> None:
    estate = tmp_path / "estate.yaml"
    estate.write_text("apiVersion: ringfence/v1\nvendors:\n  - name: a/b\n")
    data_dir = str(seeded.runtime.settings.data_dir)
    r = CliRunner().invoke(cli_app, ["apply", "-f", str(estate), "--data-dir", data_dir])
    assert r.exit_code != 0
    assert "'/'" in r.output and "Traceback" not in r.output


def test_the_vendor_risk_list_reports_a_stored_vendor_no_url_reaches(seeded: Api) -> None:
    with seeded.runtime.store.session() as s:
        s.add(Vendor(name="old/vendor"))
    rows = {r["vendor"]: r for r in seeded.get("/api/v1/vendor-risk").json()}
    assert "'/'" in rows["old/vendor"]["name_problem"]
    assert rows["Acme"]["name_problem"] is None
