"""An integration named like another's id or OAuth client id is refused by the file (session
13). Lookups take "id or name" and the responder maps an alert's entity to an integration by
name or client id: before, ``apply`` accepted an integration called ``client-1`` next to one
whose client_id is ``client-1``, and an alert about the first quarantined whichever the
database returned first."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ringfence.inventory.estate import EstateInvalid, apply_estate, parse_estate, plan_estate
from ringfence.runtime import Runtime
from ringfence.store.models import App, Integration
from tests.inventory.helpers import SMALL, fingerprint

SECOND = """\
  - name: {name}
    kind: service_account
    destination: Chat
{extra}"""


def _apply(rt: Runtime, text: str) -> object:
    return apply_estate(rt.store, parse_estate(text, "estate.yaml"), actor="ci", clock=rt.clock)


def _with_second(name: str, extra: str = "") -> str:
    return SMALL.replace("credentials:\n", SECOND.format(name=name, extra=extra) + "credentials:\n")


def _refused(rt: Runtime, text: str) -> str:
    before = fingerprint(rt.store)
    with pytest.raises(EstateInvalid) as err:
        _apply(rt, text)
    assert fingerprint(rt.store) == before
    (problem,) = err.value.problems
    return str(problem)


def test_an_integration_named_like_another_client_id_is_refused(runtime: Runtime) -> None:
    _apply(runtime, SMALL)
    problem = _refused(runtime, _with_second("client-1"))
    assert "integrations[1] (client-1).name" in problem
    assert "'client-1' is the client_id of integration 'crm-to-chat'" in problem


def test_a_client_id_equal_to_another_integration_name_is_refused(runtime: Runtime) -> None:
    _apply(runtime, SMALL)
    problem = _refused(runtime, _with_second("bot", "    client_id: crm-to-chat\n"))
    assert "integrations[1] (bot).client_id" in problem
    assert "'crm-to-chat' is the name of integration 'crm-to-chat'" in problem
    # in one file, nothing stored yet: refused as well
    with pytest.raises(EstateInvalid):
        _apply(runtime, _with_second("client-1").replace("crm-to-chat", "crm-to-chat-2"))


def test_an_integration_named_like_another_id_is_refused(runtime: Runtime) -> None:
    _apply(runtime, SMALL)
    with runtime.store.session() as s:
        other = s.scalars(select(Integration.id).where(Integration.name == "crm-to-chat")).one()
    problem = _refused(runtime, _with_second(other))
    assert f"integrations[1] ({other}).name" in problem
    assert "is the id of integration 'crm-to-chat'" in problem


def test_an_app_named_like_another_app_id_is_refused(runtime: Runtime) -> None:
    _apply(runtime, SMALL)
    with runtime.store.session() as s:
        crm = s.scalars(select(App.id).where(App.name == "CRM")).one()
    text = SMALL.replace(
        "integrations:\n", f"  - name: {crm}\n    vendor: Salesforce\nintegrations:\n"
    )
    problem = _refused(runtime, text)
    assert f"apps[2] ({crm}).name" in problem and "is the id of app 'CRM'" in problem


def test_own_client_id_as_name_and_unrelated_changes_still_apply(runtime: Runtime) -> None:
    _apply(runtime, SMALL)
    text = _with_second("bot-1", "    client_id: bot-1\n")
    _apply(runtime, text)
    # a collision stored before this check does not block unrelated changes
    with runtime.store.session() as s:
        s.scalars(select(Integration).where(Integration.name == "bot-1")).one().name = "client-1"
    text = text.replace("bot-1\n    kind", "client-1\n    kind")
    _apply(runtime, text.replace("Bob\n", "Bobby\n"))
    with runtime.store.session() as s:
        assert plan_estate(s, parse_estate(text.replace("Bob\n", "Bobby\n"), "e")).is_empty
