"""``ringfence users`` / ``ringfence reviews``: happy paths and one-line errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from ringfence.cli import main
from ringfence.identity.scim import ScimTokens
from ringfence.runtime import Runtime
from ringfence.store.models import Integration, IntegrationStatus


@pytest.fixture
def cli_env(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    monkeypatch.setenv("RINGFENCE_STORE_URL", runtime.settings.resolved_store_url)
    monkeypatch.setenv("RINGFENCE_IDENTITY_DELAY_BASE_SECONDS", "0")
    return runtime


def run(
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stdin: str = "",
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_users_commands(
    cli_env: Runtime, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run(
        ["users", "create", "ann@example.com", "-r", "auditor", "--password-stdin", "-o", "json"],
        capsys,
        monkeypatch,
        stdin="correct horse battery\n",
    )
    assert code == 0, err
    assert json.loads(out)[0]["roles"] == ["auditor"]
    code, out, _ = run(["users", "list", "-o", "json"], capsys, monkeypatch)
    assert [u["username"] for u in json.loads(out)] == ["ann@example.com"]
    code, _, err = run(
        ["users", "create", "x@example.com", "-r", "root", "--no-password"], capsys, monkeypatch
    )
    assert code == 1 and "unknown roles" in err and "Traceback" not in err
    code, _, err = run(
        ["users", "create", "y@example.com", "-r", "auditor", "--password-stdin"],
        capsys,
        monkeypatch,
        stdin="short\n",
    )
    assert code == 1 and "at least 12" in err
    code, out, _ = run(
        ["users", "roles", "ann@example.com", "-r", "security-analyst"], capsys, monkeypatch
    )
    assert code == 0
    mint = ["users", "token-create", "ann@example.com", "--name", "ci", "-s", "read", "-o", "json"]
    code, out, err = run(mint, capsys, monkeypatch)
    assert code == 1 and "enrol MFA" in err  # analysts must use MFA by default (session 13)
    monkeypatch.setenv("RINGFENCE_IDENTITY_MFA_REQUIRED_ROLES", '["admin"]')
    code, out, err = run(mint, capsys, monkeypatch)
    assert code == 0, err
    assert json.loads(out)["token"].startswith("rf_pat_")
    code, _, err = run(["users", "disable", "nobody@example.com"], capsys, monkeypatch)
    assert code == 1 and "no user" in err
    code, out, _ = run(["users", "scim-token-create", "okta", "-o", "json"], capsys, monkeypatch)
    token = json.loads(out)["token"]
    assert ScimTokens(cli_env.store, cli_env.clock).authenticate(token) == "okta"


def test_deprovision_and_review_commands(
    cli_env: Runtime,
    estate: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, out, err = run(
        ["users", "deactivate-person", "alice@example.com", "-o", "json"], capsys, monkeypatch
    )
    assert code == 0, err
    assert json.loads(out)[0]["quarantined"] == 2
    code, out, _ = run(["users", "findings", "-o", "json"], capsys, monkeypatch)
    assert len(json.loads(out)) == 2
    code, out, err = run(
        ["users", "reassign-owner", "crm-to-chat", "bob@example.com"], capsys, monkeypatch
    )
    assert code == 0 and "active" in out, err

    used = tmp_path / "used.json"
    used.write_text(json.dumps({"crm-to-chat": ["chat:write"]}))
    code, out, err = run(
        [
            "reviews",
            "create",
            "q3",
            "--owner",
            "bob@example.com",
            "--due",
            "2099-02-01",
            "--used-scopes",
            str(used),
            "-o",
            "json",
        ],
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    item = json.loads(out)[0]
    assert item["unused_scopes"] == ["chat:read", "users:read"]
    code, _, err = run(
        [
            "reviews",
            "decide",
            "q3",
            item["id"],
            "--decision",
            "reduce",
            "--keep",
            "chat:write",
            "-m",
            "posts only",
        ],
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    with cli_env.store.session() as s:
        integ = s.scalar(select(Integration).where(Integration.name == "crm-to-chat"))
        assert integ is not None and integ.scopes == ["chat:write"]
        assert integ.status == IntegrationStatus.ACTIVE
    out_file = tmp_path / "evidence.csv"
    code, _, err = run(
        ["reviews", "export", "q3", "-f", "csv", "--out", str(out_file)], capsys, monkeypatch
    )
    assert code == 0 and "posts only" in out_file.read_text()
    code, out, _ = run(["reviews", "close", "q3"], capsys, monkeypatch)
    assert "1 decided" in out
    code, _, err = run(
        ["reviews", "decide", "q3", item["id"], "--decision", "keep"], capsys, monkeypatch
    )
    assert code == 1 and "closed" in err
    code, _, err = run(
        ["reviews", "create", "q4", "--app", "crm", "--due", "soon"], capsys, monkeypatch
    )
    assert code == 1 and "not an ISO date" in err
    code, _, err = run(["reviews", "create", "q4", "--due", "2099-03-01"], capsys, monkeypatch)
    assert code == 1 and "exactly one" in err
