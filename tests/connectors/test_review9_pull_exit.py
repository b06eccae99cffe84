"""Review 9, finding 7: a pull with errors does not exit 0.

``ringfence connectors pull`` and ``ringfence discover --connectors`` exited 0 even when every
listing failed (a wrong token: three HTTP 401 errors from Okta; Slack answers invalid_auth).
They now exit 3 when any vendor's pull had errors, after printing and storing what was pulled.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ringfence.cli import main
from ringfence.demo.fakes import OktaFake, RunningFake, SlackFake, connectors_yaml, serve
from ringfence.posture.cli import PARTIAL_PULL_EXIT


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, RunningFake]]:
    # The Slack fake expects another token than the one configured: every listing gets 401.
    running = {"okta": serve(OktaFake()), "slack": serve(SlackFake(token="another-token"))}
    yield running
    for s in running.values():
        s.stop()


@pytest.fixture(scope="module")
def world(
    servers: dict[str, RunningFake], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Path]]:
    """One data dir for the module (``init`` is the slow part); every test pulls into it."""
    base = tmp_path_factory.mktemp("pull-exit")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RF_TEST_SAAS_TOKEN", "test-token")
        both = base / "both.yaml"
        both.write_text(connectors_yaml(servers, "env:RF_TEST_SAAS_TOKEN"))
        okta_only = base / "okta.yaml"
        okta_only.write_text(connectors_yaml({"okta": servers["okta"]}, "env:RF_TEST_SAAS_TOKEN"))
        data = base / "data"
        try:
            main(["init", "--data-dir", str(data)])
        except SystemExit as exc:
            assert not exc.code
        yield {"both": both, "okta": okta_only, "data": data}


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_connectors_pull_exits_3_when_a_vendor_failed_and_keeps_the_rest(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        [
            "connectors",
            "pull",
            "-c",
            str(world["both"]),
            "--data-dir",
            str(world["data"]),
            "-o",
            "json",
        ],
        capsys,
    )
    assert code == PARTIAL_PULL_EXIT == 3
    rows = {r["vendor"]: r for r in json.loads(out)}
    assert rows["okta"]["errors"] == "" and rows["okta"]["people"] > 0
    assert "invalid_auth" in rows["slack"]["errors"]  # Slack: HTTP 200 {"ok": false}
    assert "incomplete pull: slack" in err and "test-token" not in out + err


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_discover_exits_3_when_a_vendor_failed_after_showing_the_results(
    fmt: str, world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        [
            "discover",
            "--connectors",
            str(world["both"]),
            "--data-dir",
            str(world["data"]),
            "-o",
            fmt,
        ],
        capsys,
    )
    assert code == 3 and "incomplete pull: slack" in err
    if fmt == "json":
        body = json.loads(out)
        assert {p["vendor"] for p in body["pulled"]} == {"okta", "slack"}
        assert body["shadow_it"]  # the Okta observations were stored and used
    else:
        assert "connectors pulled" in out and "shadow IT" in out


def test_a_complete_pull_still_exits_0(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ["connectors", "pull", "-c", str(world["okta"])],
        ["discover", "--connectors", str(world["okta"])],
    ):
        code, _, err = run([*argv, "--data-dir", str(world["data"])], capsys)
        assert code == 0, err


def test_connectors_audit_exits_3_when_a_vendor_failed(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data-dir", str(world["data"])]
    code, out, err = run(
        ["connectors", "audit", "-c", str(world["both"]), "-o", "json", *data], capsys
    )
    assert code == 3 and "incomplete pull: slack" in err
    rows = {r["vendor"]: r for r in json.loads(out)}
    assert rows["okta"]["error"] == "" and rows["okta"]["records"] > 0
    assert rows["slack"]["error"]
    code, _, err = run(["connectors", "audit", "-c", str(world["okta"]), *data], capsys)
    assert code == 0, err
