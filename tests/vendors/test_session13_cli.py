"""Session 13 review (low): 'ringfence vendors import' reads only a regular file, boundedly.

Before, a FIFO given as the file blocked the command forever (a symlink to /dev/zero read
until memory ran out); the estate loader had been fixed for the same thing (review 10).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.vendors.test_cli import data_dir, run  # noqa: F401


@pytest.mark.timeout(30)
def test_import_from_a_fifo_is_refused_not_waited_on(
    data_dir: str,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    d = ["--data-dir", data_dir]
    code, out, _ = run(["vendors", "send", "Acme Payroll", "-o", "json", *d], capsys)
    assert code == 0
    fifo = tmp_path / "answers.csv"
    os.mkfifo(fifo)
    code, _, err = run(
        ["vendors", "import", json.loads(out)["assessment_id"], str(fifo), *d], capsys
    )
    assert code == 1 and "not a regular file" in err and "Traceback" not in err
