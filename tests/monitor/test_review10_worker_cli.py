"""Review 10 A5: ``ringfence monitor worker`` does not print the NATS credentials.

Before, its start-up line was ``monitor worker on nats://user:password@host:4222 ...``: the
password went to the terminal and to whatever collects the worker's output (journald, CI logs).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ringfence.cli.app import app as cli_app
from ringfence.runtime import Runtime


@pytest.mark.parametrize(
    "url", ["nats://worker:s3cretPW@127.0.0.1:1", "nats://s3cretPW@127.0.0.1:1"]
)
def test_the_worker_names_the_nats_server_without_its_credentials(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("RINGFENCE_NATS_URL", url)  # nothing listens on port 1: it fails fast
    res = CliRunner().invoke(
        cli_app, ["monitor", "worker", "--data-dir", str(runtime.settings.data_dir)]
    )
    out = res.output + (repr(res.exception) if res.exception else "")
    assert "monitor worker on nats://127.0.0.1:1" in res.output, out
    assert "s3cretPW" not in out
