"""A misspelt or out-of-range ``RINGFENCE_IDENTITY_*`` variable is refused, naming it.

Before: a misspelt name was ignored (the default applied while the operator believed the
setting on) and a bad value surfaced as "internal error (ValidationError)" in the CLI."""

from __future__ import annotations

import pytest

from ringfence.core.errors import ConfigError
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime
from tests.identity.test_cli import cli_env, run  # noqa: F401  (fixture)


def test_a_misspelt_variable_is_refused_with_the_close_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RINGFENCE_IDENTITY_LOCKOUT_TRESHOLD", "3")
    with pytest.raises(ConfigError) as err:
        IdentitySettings()
    assert "RINGFENCE_IDENTITY_LOCKOUT_TRESHOLD" in str(err.value)
    assert "did you mean RINGFENCE_IDENTITY_LOCKOUT_THRESHOLD" in str(err.value)


def test_a_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RINGFENCE_IDENTITY_SESSION_TTL_MINUTES", "1")
    with pytest.raises(ConfigError) as err:
        IdentitySettings()
    assert "RINGFENCE_IDENTITY_SESSION_TTL_MINUTES" in str(err.value)


def test_known_variables_and_keywords_still_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RINGFENCE_IDENTITY_LOCKOUT_THRESHOLD", "3")
    s = IdentitySettings(cookie_secure=False)
    assert s.lockout_threshold == 3 and s.cookie_secure is False


def test_the_cli_answers_one_line_and_non_zero(
    cli_env: Runtime,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RINGFENCE_IDENTITY_COOKIE_SECUR", "false")
    code, _out, err = run(["users", "list"], capsys, monkeypatch)
    assert code != 0
    assert "RINGFENCE_IDENTITY_COOKIE_SECUR" in err and "Traceback" not in err
    assert "did you mean RINGFENCE_IDENTITY_COOKIE_SECURE" in err
