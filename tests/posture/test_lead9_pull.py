"""A vendor that cannot be pulled at all (its credential does not resolve) is that vendor's
error: the others are still pulled and the command exits 3 (session 9; before, the whole pull
stopped with exit 1 and no vendor after it was pulled)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ringfence.cli import main
from ringfence.demo.fakes import GitHubFake, OktaFake, connectors_yaml, serve


def test_an_unresolvable_credential_fails_that_vendor_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RF_TEST_SAAS_TOKEN", "test-token")
    monkeypatch.delenv("RF_NO_SUCH_TOKEN_VAR", raising=False)
    github, okta = serve(GitHubFake()), serve(OktaFake())
    try:
        text = connectors_yaml({"github": github}, "env:RF_NO_SUCH_TOKEN_VAR")
        text += connectors_yaml({"okta": okta}, "env:RF_TEST_SAAS_TOKEN").removeprefix(
            "connectors:\n"
        )
        conf = tmp_path / "connectors.yaml"
        conf.write_text(text)
        data = str(tmp_path / "data")
        with pytest.raises(SystemExit) as done:
            main(["init", "--data-dir", data])
        assert not done.value.code
        capsys.readouterr()
        with pytest.raises(SystemExit) as done:
            main(["connectors", "pull", "-c", str(conf), "--data-dir", data, "-o", "json"])
        out, err = capsys.readouterr()
        assert done.value.code == 3
        rows = {r["vendor"]: r for r in json.loads(out)}
        assert "RF_NO_SUCH_TOKEN_VAR" in str(rows["github"]["errors"])
        assert rows["okta"]["errors"] == "" and int(rows["okta"]["people"]) > 0
        assert "github: not pulled" in err
    finally:
        github.stop()
        okta.stop()
