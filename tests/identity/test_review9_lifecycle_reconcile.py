"""Review 9: reconciling people deactivated outside identity reaches their console users even
when they own no integration."""

from __future__ import annotations

from argon2 import PasswordHasher
from sqlalchemy import select

from ringfence.identity import lifecycle
from ringfence.identity.accounts import Accounts
from ringfence.identity.models import ConsoleSession, PersonalToken
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime
from ringfence.store.models import Person


def _accounts(runtime: Runtime) -> Accounts:
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return Accounts(
        runtime.store,
        runtime.vault,
        runtime.clock,
        IdentitySettings(mfa_required_roles=["admin"]),
        cheap,
    )


def test_reconcile_reaches_a_leaver_who_owns_no_integration(
    runtime: Runtime, estate: dict[str, str]
) -> None:
    """Finding 5: reconcile (run by `ringfence apply` and the API) joined Integration, so Bob,
    who owns nothing but has a console user with a token, kept his token and password."""
    accounts = _accounts(runtime)
    bob = accounts.create_user("bob@example.com", roles=["security-analyst"], password="x" * 12)
    assert bob.person_id == estate["bob"]
    accounts.issue_token(bob.id, "ci", ["read"], 365, actor="test")
    accounts.create_session(bob.id, mfa_passed=False, method="password")
    with runtime.store.session() as s:
        person = s.get(Person, estate["bob"])
        assert person is not None
        person.active = False  # e.g. `active: false` in ringfence.yaml, then apply
    with runtime.store.session() as s:
        reports = lifecycle.reconcile(s, actor="t", clock=runtime.clock, quarantine=True)
        assert [r.person_id for r in reports] == [estate["bob"]]
        assert reports[0].tokens_revoked == 1 and reports[0].sessions_revoked == 1
    assert accounts.get_user("bob@example.com").disabled_at is not None
    with runtime.store.session() as s:
        assert all(t.revoked_at for t in s.scalars(select(PersonalToken)))
        assert all(x.revoked_at for x in s.scalars(select(ConsoleSession)))
        # nothing left to reach: the next run is a no-op
        assert lifecycle.reconcile(s, actor="t", clock=runtime.clock, quarantine=True) == []


def test_reconcile_leaves_inactive_people_without_live_access_alone(
    runtime: Runtime, estate: dict[str, str]
) -> None:
    with runtime.store.session() as s:
        person = s.get(Person, estate["bob"])
        assert person is not None
        person.active = False
    with runtime.store.session() as s:
        assert lifecycle.reconcile(s, actor="t", clock=runtime.clock, quarantine=True) == []
