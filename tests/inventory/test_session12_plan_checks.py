"""A plan refuses changes that would undo a control (session 12). Before, `ringfence apply`
of a file saying `status: active` brought a revoked integration back (the REST API's
/activate refuses: revoked is final), and `active: true` reactivated a person held inactive
by an emergency deactivation (identity's hold; the API and CLI need a reason to lift it)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ringfence.identity import lifecycle
from ringfence.inventory.estate import EstateInvalid, apply_estate, parse_estate, plan_estate
from ringfence.runtime import Runtime
from ringfence.store.models import Integration, IntegrationStatus, Person
from tests.inventory.helpers import SMALL, fingerprint

BOB = "  - email: bob@northwind.example\n    name: Bob\n"


def _apply(rt: Runtime, text: str) -> object:
    return apply_estate(rt.store, parse_estate(text, "estate.yaml"), actor="ci", clock=rt.clock)


def _status(rt: Runtime) -> IntegrationStatus:
    with rt.store.session() as s:
        return s.scalars(select(Integration.status).where(Integration.name == "crm-to-chat")).one()


def _set_status(rt: Runtime, status: IntegrationStatus) -> None:
    with rt.store.session() as s:
        s.scalars(
            select(Integration).where(Integration.name == "crm-to-chat")
        ).one().status = status


def test_a_revoked_integration_stays_revoked(any_runtime: Runtime) -> None:
    rt = any_runtime
    _apply(rt, SMALL)
    _set_status(rt, IntegrationStatus.REVOKED)
    before = fingerprint(rt.store)
    for wanted in ("active", "quarantined"):
        text = SMALL.replace(
            "    destination: Chat\n", f"    destination: Chat\n    status: {wanted}\n", 1
        )
        with pytest.raises(EstateInvalid) as err:
            _apply(rt, text)
        (problem,) = err.value.problems
        assert "integrations[0] (crm-to-chat).status" in str(problem)
        assert "revoked, which is final" in problem.message
        assert fingerprint(rt.store) == before and _status(rt) is IntegrationStatus.REVOKED
    # unset keeps it, and a quarantine is still lifted by the file as before
    assert _plan(rt, SMALL).is_empty
    _set_status(rt, IntegrationStatus.QUARANTINED)
    _apply(
        rt,
        SMALL.replace("    destination: Chat\n", "    destination: Chat\n    status: active\n", 1),
    )
    assert _status(rt) is IntegrationStatus.ACTIVE


def _plan(rt: Runtime, text: str):  # type: ignore[no-untyped-def]
    with rt.store.session() as s:
        return plan_estate(s, parse_estate(text, "estate.yaml"))


def _bob(rt: Runtime) -> Person:
    with rt.store.session() as s:
        person = s.scalars(select(Person).where(Person.email == "bob@northwind.example")).one()
        s.expunge(person)
        return person


def test_a_held_person_is_not_reactivated_by_the_file(any_runtime: Runtime) -> None:
    rt = any_runtime
    _apply(rt, SMALL)
    with rt.store.session() as s:
        bob = s.scalars(select(Person).where(Person.email == "bob@northwind.example")).one()
        lifecycle.deactivate_person(
            s, bob, actor="alice", clock=rt.clock, quarantine=False, hold_reason="incident 42"
        )
    active = SMALL.replace(BOB, BOB + "    active: true\n")
    with pytest.raises(EstateInvalid) as err:
        _apply(rt, active)
    (problem,) = err.value.problems
    assert "people[1] (bob@northwind.example).active" in str(problem)
    assert "held inactive by alice" in problem.message and "incident 42" in problem.message
    assert _bob(rt).active is False
    assert _plan(rt, SMALL).is_empty  # unset: kept inactive, nothing to refuse
    with rt.store.session() as s:
        bob = s.scalars(select(Person).where(Person.email == "bob@northwind.example")).one()
        lifecycle.reactivate_person(s, bob, actor="alice", clock=rt.clock, lift_reason="cleared")
        bob.active = False  # (as an IdP deactivation would leave it: no hold)
    _apply(rt, active)
    assert _bob(rt).active is True
