"""Lockout must hold under parallel guessing: N concurrent wrong passwords for one account may
not all be checked before the first failure is counted (that multiplies the guesses an
attacker gets per lockout window by the server's concurrency)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ringfence.core.config import load_settings
from ringfence.core.errors import AuthenticationError, RateLimitedError
from ringfence.identity.accounts import Accounts
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime, initialise
from tests.services import postgres_database


@pytest.fixture
def pg_runtime(runtime: Runtime, tmp_path: Path) -> Iterator[Runtime]:
    with postgres_database() as url:
        settings = load_settings(data_dir=tmp_path / "pg", store_url=url)
        initialise(settings)
        rt = Runtime.open(settings, clock=runtime.clock)
        try:
            yield rt
        finally:
            rt.close()


@pytest.mark.postgres
def test_parallel_wrong_passwords_do_not_outrun_the_lockout(pg_runtime: Runtime) -> None:
    threshold = 3
    settings = IdentitySettings(lockout_threshold=threshold, delay_base_seconds=0)
    accounts = Accounts(pg_runtime.store, pg_runtime.vault, pg_runtime.clock, settings)
    accounts.create_user("frank", roles=["auditor"], password="correct horse battery")

    def attempt(i: int) -> str:
        try:
            accounts.login_password("frank", f"wrong guess {i}")
        except RateLimitedError:
            return "locked"
        except AuthenticationError:
            return "checked"
        return "signed-in"

    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(attempt, range(12)))
    assert outcomes.count("checked") <= threshold, outcomes
    assert "signed-in" not in outcomes
