"""An integration reference is resolved id first, then name (session 12, API review, low).

`PUT /api/v1/identity/integrations/{ref}/owner` and `ringfence users reassign-owner` looked
the integration up with one `id = ref OR name = ref` query and took whichever row came first:
an integration whose *name* is another integration's id (any writer can pick a name) could be
given the new owner instead — and its quarantine lifted by the owner-left resolution."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from ringfence.core.errors import NotFoundError
from ringfence.identity import lifecycle
from ringfence.runtime import Runtime
from ringfence.store.models import Integration, Person
from tests.identity.test_cli import run


def _impostor(runtime: Runtime) -> tuple[str, str]:
    """(a new integration's id, the id of an integration named after it, made first)."""
    victim_id = str(uuid.uuid4())
    with runtime.store.session() as s:
        chat = s.scalars(select(Integration).where(Integration.name == "crm-to-chat")).one()
        impostor = Integration(name=victim_id, destination_app_id=chat.destination_app_id)
        s.add(impostor)
        s.flush()
        victim = Integration(
            id=victim_id, name="victim", destination_app_id=chat.destination_app_id
        )
        s.add(victim)
        s.flush()
        return victim_id, impostor.id


@pytest.fixture
def cli_env(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    monkeypatch.setenv("RINGFENCE_STORE_URL", runtime.settings.resolved_store_url)
    return runtime


def test_an_id_wins_over_a_name(runtime: Runtime, estate: dict[str, str]) -> None:
    real_id, _ = _impostor(runtime)
    with runtime.store.session() as s:
        assert lifecycle.integration_id_of(s, real_id) == real_id
        assert lifecycle.integration_id_of(s, "victim") == real_id
        with pytest.raises(NotFoundError):
            lifecycle.integration_id_of(s, "no-such")


def test_reassign_owner_by_id_reaches_that_integration(
    cli_env: Runtime,
    estate: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_id, impostor_id = _impostor(cli_env)
    code, _, err = run(["users", "reassign-owner", real_id, "bob@example.com"], capsys, monkeypatch)
    assert code == 0, err
    with cli_env.store.session() as s:
        bob = s.scalars(select(Person.id).where(Person.email == "bob@example.com")).one()
        assert s.get(Integration, real_id).owner_id == bob  # type: ignore[union-attr]
        assert s.get(Integration, impostor_id).owner_id is None  # type: ignore[union-attr]
