"""Review 12: a vendor's name is text in ``ringfence vendors show/score``, never Rich markup
(a hidden ``[link=...]``, a ``[/x]`` that made the command fail after loading)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ringfence.cli import main
from ringfence.core.config import load_settings
from ringfence.runtime import Runtime
from tests.vendors.conftest import copy_template, make_estate, template_data_dir  # noqa: F401

LINKED = "Contoso [link=https://evil.example/]Payroll[/link]"
BROKEN = "Fabrikam [/x] Ltd"


@pytest.fixture
def data_dir(tmp_path: Path, template_data_dir: Path) -> str:  # noqa: F811
    data = tmp_path / "rf"
    copy_template(template_data_dir, data)
    rt = Runtime.open(load_settings(data_dir=data))
    try:
        make_estate(rt, name=LINKED)
        make_estate(rt, name=BROKEN)
    finally:
        rt.close()
    return str(data)


@pytest.mark.parametrize("name", [LINKED, BROKEN])
@pytest.mark.parametrize("command", ["show", "score"])
def test_a_vendor_name_is_printed_as_it_is(
    data_dir: str, command: str, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        main(["vendors", command, name, "--data-dir", data_dir])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert name in out.replace("\n", "")
