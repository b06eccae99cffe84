"""RF-IDN-018 / RF-IDN-019: names stored before bd02d0f that read as another item's id or
client id (session 14).

bd02d0f refused new ones in ringfence.yaml and the REST API (and session 14 in SCIM); those
already stored were reported nowhere, while the responder kept mapping an alert's entity by
name or client_id to whichever integration the database returned first."""

from __future__ import annotations

from ringfence.posture import IntegrationFact, run_checks
from ringfence.posture.loader import load_context
from ringfence.runtime import Runtime
from ringfence.store.models import App, Integration, Vendor
from tests.posture.builders import healthy


def _failures(ctx: object, check_id: str) -> dict[str, str]:
    [result] = run_checks(ctx, only=[check_id]).results  # type: ignore[arg-type]
    return {f.resource_id: f.message for f in result.failures}


def test_every_kind_of_integration_clash_is_reported_on_the_integration_that_causes_it() -> None:
    ctx = healthy()  # crm-chat: id i1, client id cid-1
    ctx.integrations += [
        IntegrationFact("i2", "i1", "service_account", "a2"),  # name = another's id
        IntegrationFact("i3", "cid-1", "service_account", "a2"),  # name = another's client id
        IntegrationFact("i4", "reporter", "service_account", "a2", client_id="i3"),  # cid = id
        IntegrationFact("i5", "own-cid", "service_account", "a2", client_id="own-cid"),  # fine
    ]
    found = _failures(ctx, "RF-IDN-018")
    assert set(found) == {"i1", "cid-1", "reporter"}
    assert "its name 'i1' is the id of integration 'crm-chat'" in found["i1"]
    assert "its name 'cid-1' is the client_id of integration 'crm-chat'" in found["cid-1"]
    assert "its client_id 'i3' is the id of integration 'cid-1'" in found["reporter"]


def test_a_name_that_clashes_twice_is_one_finding_naming_both() -> None:
    ctx = healthy()
    ctx.integrations += [
        IntegrationFact("i2", "i1", "service_account", "a2"),
        IntegrationFact("i3", "other", "service_account", "a2", client_id="i1"),
    ]
    [result] = run_checks(ctx, only=["RF-IDN-018"]).results
    mine = [f for f in result.failures if f.resource_id == "i1"]
    assert len(mine) == 1
    assert "the id of integration 'crm-chat'" in mine[0].message
    assert "the client_id of integration 'other'" in mine[0].message


def test_an_app_named_like_another_apps_id_is_reported_not_a_name_like_its_own_id() -> None:
    ctx = healthy()
    app = ctx.apps[0]
    ctx.apps.append(type(app)("a9", "a1", "Acme"))
    ctx.apps.append(type(app)("self-named", "self-named", "Acme"))
    found = _failures(ctx, "RF-IDN-019")
    assert set(found) == {"a1"}
    assert "app 'a1' is named like the id of app 'CRM'" in found["a1"]


def test_collisions_stored_before_the_refusal_are_found_in_the_store(runtime: Runtime) -> None:
    with runtime.store.session() as s:
        acme = Vendor(name="Acme")
        s.add(acme)
        s.flush()
        decoy_vendor = Vendor(name=acme.id)
        crm = App(name="crm", vendor_id=acme.id)
        s.add_all([decoy_vendor, crm])
        s.flush()
        real = Integration(name="crm-sync", destination_app_id=crm.id, client_id="client-1")
        s.add(real)
        s.flush()
        s.add(Integration(name="client-1", destination_app_id=crm.id))
        acme_id = acme.id
    with runtime.store.session() as s:
        ctx = load_context(s, runtime.clock.now())
    integrations = _failures(ctx, "RF-IDN-018")
    assert set(integrations) == {"client-1"}
    assert "'crm-sync'" in integrations["client-1"]
    vendors = _failures(ctx, "RF-IDN-019")
    assert set(vendors) == {acme_id}
    assert "vendor" in vendors[acme_id] and "'Acme'" in vendors[acme_id]
