"""``ringfence token create|list|revoke`` and the tokens it makes, used against the API."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ringfence.api import create_app
from ringfence.cli import main
from ringfence.core.config import load_settings
from ringfence.runtime import Runtime
from ringfence.store import audit

TOKEN = re.compile(r"rf_cp_[0-9a-f]{12}_[A-Za-z0-9_-]{40,}")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    data = tmp_path / "rf"
    assert run(["init", "--data-dir", str(data)], capsys)[0] == 0
    return data


def test_create_prints_token_once_and_it_works_until_revoked(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = ["--data-dir", str(data_dir)]
    code, out, _ = run(
        ["token", "create", "ci-deploy", "--scope", "write", "--ttl-days", "7", *d], capsys
    )
    assert code == 0
    assert "shown only once" in out
    (token,) = TOKEN.findall(out)
    code, out, _ = run(["token", "list", "-o", "json", *d], capsys)
    assert code == 0
    assert token not in out
    (row,) = json.loads(out)
    assert row["name"] == "ci-deploy"
    assert row["scopes"] == ["read", "write"]
    assert row["state"] == "active"

    rt = Runtime.open(load_settings(data_dir=data_dir))
    try:
        client = TestClient(create_app(rt))
        auth = {"Authorization": f"Bearer {token}"}
        assert (
            client.post("/api/v1/vendors", json={"name": "Acme"}, headers=auth).status_code == 201
        )
        code, out, _ = run(["token", "revoke", row["id"], *d], capsys)
        assert code == 0
        assert client.get("/api/v1/vendors", headers=auth).status_code == 401
        assert client.get("/api/v1/audit", headers=auth).status_code == 401
        assert audit.verify(rt.store).ok
    finally:
        rt.close()
    code, out, _ = run(["audit", "log", "-o", "json", *d], capsys)
    assert [r["action"] for r in json.loads(out)] == [
        "api_token.revoke",
        "vendor.create",
        "api_token.create",
    ]
    assert token not in out
    code, out, _ = run(["token", "list", "-o", "json", *d], capsys)
    assert json.loads(out)[0]["state"] == "revoked"


def test_json_output_carries_the_token_for_scripts(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        ["token", "create", "reader", "-o", "json", "--data-dir", str(data_dir)], capsys
    )
    assert code == 0
    body = json.loads(out)
    assert TOKEN.fullmatch(body["token"])
    assert body["scopes"] == ["read"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["token", "create", "x", "--scope", "admin"], "scopes"),
        (["token", "create", "x", "--ttl-days", "0"], "lifetime"),
        (["token", "create", "x", "--ttl-days", "99999"], "lifetime"),
        (["token", "revoke", "no-such-id"], "no API token"),
    ],
)
def test_bad_token_commands_fail_with_one_line(
    data_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run([*argv, "--data-dir", str(data_dir)], capsys)
    assert code == 1
    assert message in err
    assert "Traceback" not in err + out
    assert not TOKEN.search(out)
