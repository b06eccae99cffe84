"""``ringfence vendors``: list/show/score/send/export/import, with one-line errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from ringfence.cli import main
from ringfence.core.config import load_settings
from ringfence.runtime import Runtime
from tests.vendors.conftest import copy_template, make_estate
from tests.vendors.test_assessments import good_answers


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def data_dir(tmp_path: Path, template_data_dir: Path) -> str:
    data = str(tmp_path / "rf")
    copy_template(template_data_dir, Path(data))
    rt = Runtime.open(load_settings(data_dir=Path(data)))
    try:
        make_estate(rt)
    finally:
        rt.close()
    return data


def test_send_export_import_score_round_trip(
    data_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = ["--data-dir", data_dir]
    code, out, _ = run(
        ["vendors", "send", "Acme Payroll", "--template", "lite", "-o", "json", *d], capsys
    )
    assert code == 0
    sent = json.loads(out)
    assert "/vendor-assessments/rf_vq_" in sent["link"]
    xfile = tmp_path / "q.csv"
    code, out, _ = run(
        ["vendors", "export", sent["assessment_id"], "--out", str(xfile), *d], capsys
    )
    assert code == 0 and xfile.exists()
    rows = list(csv.reader(io.StringIO(xfile.read_text(encoding="utf-8-sig"))))
    answers = good_answers([r[0] for r in rows[1:]])
    rows[1][7] = "maybe"  # one bad cell first
    for r in rows[2:]:
        r[7] = answers.get(r[0], "")
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    xfile.write_text(buf.getvalue())
    code, _, err = run(["vendors", "import", sent["assessment_id"], str(xfile), *d], capsys)
    assert code == 1 and "q.csv:H2:" in err and "nothing was imported" in err
    assert "Traceback" not in err
    rows[1][7] = answers.get(rows[1][0], "")
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    xfile.write_text(buf.getvalue())
    code, out, _ = run(["vendors", "import", sent["assessment_id"], str(xfile), *d], capsys)
    assert code == 0 and "imported assessment" in out
    code, out, _ = run(["vendors", "score", "Acme Payroll", "-o", "json", *d], capsys)
    score = json.loads(out)
    assert code == 0 and score["assessment"]["state"] == "current"
    assert any(s.startswith("questionnaire score") for s in score["explanation"])
    code, out, _ = run(["vendors", "list", "-o", "json", *d], capsys)
    assert code == 0 and "Acme Payroll" in [r["vendor"] for r in json.loads(out)]
    assert run(["vendors", "list", *d], capsys)[0] == 0
    code, out, _ = run(["vendors", "show", "Acme Payroll", *d], capsys)
    assert code == 0 and "residual risk" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["vendors", "score", "Nobody"], "no vendor named 'Nobody'"),
        (
            ["vendors", "send", "Acme Payroll", "--template", "huge"],
            "unknown questionnaire template",
        ),
        (["vendors", "export", "nope", "--out", "x.pdf"], "use a .xlsx or .csv file name"),
        (["vendors", "export", "nope", "--out", "x.csv"], "no assessment 'nope'"),
        (["vendors", "import", "nope", "/does/not/exist.csv"], "cannot read"),
    ],
)
def test_bad_input_is_one_red_line(
    data_dir: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run([*argv, "--data-dir", data_dir], capsys)
    assert code == 1 and message in err and "Traceback" not in err
