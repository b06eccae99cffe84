"""XLSX/CSV export and import: round trip, per-row/cell errors, all-or-nothing policy."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from ringfence.core.errors import ConflictError, ValidationError
from ringfence.runtime import Runtime
from ringfence.store.models import Vendor
from ringfence.vendors import assessments as asm
from ringfence.vendors import transfer
from ringfence.vendors.models import Assessment, AssessmentStatus
from tests.vendors.conftest import Estate
from tests.vendors.test_assessments import good_answers


def _open(runtime: Runtime, estate: Estate) -> str:
    with runtime.store.session() as s:
        return asm.send(
            s, s.get_one(Vendor, estate.vendor_id), runtime.clock, template="lite"
        ).assessment.id


def _export(runtime: Runtime, aid: str, fmt: str) -> bytes:
    with runtime.store.session() as s:
        return transfer.export_assessment(s.get_one(Assessment, aid), fmt, "Acme Payroll")


def _fill_xlsx(data: bytes, answers: dict[str, Any]) -> bytes:
    wb = load_workbook(io.BytesIO(data))
    ws = wb["Questionnaire"]
    for row in ws.iter_rows(min_row=2):
        qid = row[0].value
        if qid in answers:
            row[7].value = answers[qid]
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _fill_csv(data: bytes, answers: dict[str, Any]) -> bytes:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    for r in rows[1:]:
        if r[0] in answers:
            r[7] = answers[r[0]]
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode()


def _import(runtime: Runtime, aid: str, content: bytes, fmt: str | None = None) -> Assessment:
    with runtime.store.session() as s:
        return transfer.import_answers(
            s, s.get_one(Assessment, aid), content, runtime.clock, fmt=fmt
        )


def _ids(runtime: Runtime, aid: str) -> list[str]:
    with runtime.store.session() as s:
        return list(s.get_one(Assessment, aid).question_ids)


@pytest.mark.parametrize(("fmt", "fill"), [("xlsx", _fill_xlsx), ("csv", _fill_csv)])
def test_export_then_import_round_trip(
    runtime: Runtime, estate: Estate, fmt: str, fill: Any
) -> None:
    aid = _open(runtime, estate)
    content = fill(_export(runtime, aid, fmt), good_answers(_ids(runtime, aid)))
    done = _import(runtime, aid, content)
    assert done.status is AssessmentStatus.SUBMITTED and done.source == "import"
    assert done.score is not None and done.score > 95
    with pytest.raises(ConflictError):
        _import(runtime, aid, content)


def test_bad_rows_are_each_named_and_nothing_is_imported(runtime: Runtime, estate: Estate) -> None:
    aid = _open(runtime, estate)
    answers = good_answers(_ids(runtime, aid))
    answers.update({"GRC-01": "perhaps", "CEK-02": "TLS 0.1"})
    del answers["IAM-01"]
    content = _fill_xlsx(_export(runtime, aid, "xlsx"), answers)
    # Append a row for an unknown question and a duplicate.
    wb = load_workbook(io.BytesIO(content))
    ws = wb["Questionnaire"]
    ws.append(["ZZZ-99", "", "", "", "", "", "", "yes"])
    ws.append(["HRS-01", "", "", "", "", "", "", "yes"])
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(ValidationError) as exc:
        _import(runtime, aid, buf.getvalue())
    err = exc.value
    assert err.code == "import_rejected" and "nothing was imported" in err.message
    problems = {(e["cell"], e["problem"]) for e in err.errors}
    rows = {e["question"]: e for e in err.errors if "question" in e}
    assert rows["GRC-01"]["problem"] == "expected yes, no or n.a."
    assert rows["GRC-01"]["cell"] == f"H{rows['GRC-01']['row']}"
    assert rows["CEK-02"]["problem"].startswith("expected one of")
    assert rows["IAM-01"]["problem"] == "an answer is required"
    last = ws.max_row
    assert (f"A{last - 1}", "unknown question 'ZZZ-99'") in problems
    assert any(
        c == f"A{last}" and p.startswith("question HRS-01 appears twice") for c, p in problems
    )
    with runtime.store.session() as s:
        row = s.get_one(Assessment, aid)
        assert row.status is AssessmentStatus.SENT and row.answers == {}


def test_missing_question_rows_are_reported(runtime: Runtime, estate: Estate) -> None:
    aid = _open(runtime, estate)
    content = b"question_id,answer\nGRC-01,yes\n"
    with pytest.raises(ValidationError) as exc:
        _import(runtime, aid, content, "csv")
    assert any(e["problem"] == "question IAM-01 is missing from the file" for e in exc.value.errors)


@pytest.mark.parametrize(
    ("content", "fmt", "message"),
    [
        (b"", None, "the file is empty"),
        (b"PK\x03\x04garbage", None, "not a readable XLSX workbook"),
        (b"\xff\xfe\x00bad", "csv", "not UTF-8"),
        (b"id,value\nGRC-01,yes\n", "csv", "missing column(s): question_id, answer"),
        (b"question_id,answer\nGRC-01,yes,extra\n", "csv", "more cells than header columns"),
        (b"question_id,answer\n", "pdf", "unknown import format"),
    ],
)
def test_malformed_files_get_one_clear_error(
    runtime: Runtime, estate: Estate, content: bytes, fmt: str | None, message: str
) -> None:
    aid = _open(runtime, estate)
    with pytest.raises(ValidationError) as exc:
        _import(runtime, aid, content, fmt)
    text = exc.value.message + " ".join(str(e) for e in exc.value.errors)
    assert message in text


def test_file_for_another_assessment_is_refused(runtime: Runtime, estate: Estate) -> None:
    a1, a2 = _open(runtime, estate), _open(runtime, estate)
    content = _fill_xlsx(_export(runtime, a1, "xlsx"), good_answers(_ids(runtime, a1)))
    with pytest.raises(ValidationError, match=f"belongs to assessment {a1}"):
        _import(runtime, a2, content)


def test_export_neutralises_formula_answers(runtime: Runtime, estate: Estate) -> None:
    aid = _open(runtime, estate)
    answers = good_answers(_ids(runtime, aid))
    answers["SEF-08"] = '=HYPERLINK("http://evil.example")'
    _import(runtime, aid, _fill_csv(_export(runtime, aid, "csv"), answers), "csv")
    rows = list(csv.reader(io.StringIO(_export(runtime, aid, "csv").decode("utf-8-sig"))))
    cell = next(r[7] for r in rows if r[0] == "SEF-08")
    assert cell.startswith("'=")


def test_stored_control_characters_never_break_an_export(runtime: Runtime, estate: Estate) -> None:
    """Answers stored before control characters were refused still export, as U+FFFD."""
    aid = _open(runtime, estate)
    answers = good_answers(_ids(runtime, aid))
    _import(runtime, aid, _fill_csv(_export(runtime, aid, "csv"), answers), "csv")
    with runtime.store.session() as s:
        row = s.get_one(Assessment, aid)
        row.answers = {**row.answers, "SEF-08": "see\x0bpolicy\x00", "GRC-01": "\x01=cmd()"}
    wb = load_workbook(io.BytesIO(_export(runtime, aid, "xlsx")))
    cells = {r[0]: r[7] for r in wb["Questionnaire"].iter_rows(min_row=2, values_only=True)}
    assert cells["SEF-08"] == "see\ufffdpolicy\ufffd"
    assert cells["GRC-01"] == "\ufffd=cmd()"
    rows = list(csv.reader(io.StringIO(_export(runtime, aid, "csv").decode("utf-8-sig"))))
    assert next(r[7] for r in rows if r[0] == "SEF-08") == "see\ufffdpolicy\ufffd"


def _good_xlsx() -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Questionnaire"
    ws.append(["question_id", "answer"])
    for i in range(100):
        ws.append([f"GRC-{i:02}", "a text answer long enough to need several deflate blocks"])
    about = wb.create_sheet("About")
    about.append(["assessment_id", "x"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _mutate(member: str, change: Callable[[bytes], bytes | None], drop: str | None = None) -> bytes:
    """The good workbook with one member changed (dropped when ``change`` returns None)."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(_good_xlsx())) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            data: bytes | None = src.read(info.filename)
            if info.filename == member:
                data = change(data or b"")
            if data is not None and info.filename != drop:
                dst.writestr(info.filename, data)
    return out.getvalue()


def _corrupt_deflate(member: str, at: int) -> bytes:
    """The good workbook with bytes of one member's compressed stream overwritten."""
    data = bytearray(_good_xlsx())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo(member)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + at
    data[start : start + 16] = b"\xff" * 16
    return bytes(data)


SHEET = "xl/worksheets/sheet1.xml"
MALFORMED_XLSX = {
    "sheet_xml_truncated": (
        lambda: _mutate(SHEET, lambda d: d[: len(d) // 2]),
        "the XLSX sheet 'Questionnaire' cannot be read (ParseError",
    ),
    "questionnaire_sheet_missing": (
        lambda: _mutate(SHEET, lambda d: None),
        "header row is missing column(s): question_id, answer",
    ),
    "every_sheet_missing": (
        lambda: _mutate(SHEET, lambda d: None, drop="xl/worksheets/sheet2.xml"),
        "the XLSX workbook has no readable sheet",
    ),
    "sheet_bad_cell_ref": (
        lambda: _mutate(SHEET, lambda d: d.replace(b'r="A1"', b'r="ZZZZZZ1"')),
        "the XLSX sheet 'Questionnaire' cannot be read (ValueError: 'ZZZZZZ'",
    ),
    "about_sheet_garbage": (
        lambda: _mutate("xl/worksheets/sheet2.xml", lambda d: d.replace(b'r="A1"', b'r="ZZZZZZ1"')),
        "the XLSX sheet 'About' cannot be read (ValueError",
    ),
    "workbook_xml_garbage": (
        lambda: _mutate("xl/workbook.xml", lambda d: b"<<<"),
        "not a readable XLSX workbook (ParseError",
    ),
    "deflate_stream_corrupt_at_start": (
        lambda: _corrupt_deflate(SHEET, 10),
        "not a readable XLSX workbook (error: Error -3 while decompressing",
    ),
    "deflate_stream_corrupt_in_the_middle": (lambda: _corrupt_deflate(SHEET, 400), "XLSX"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_XLSX))
def test_malformed_xlsx_is_one_validation_error_and_imports_nothing(
    runtime: Runtime, estate: Estate, case: str
) -> None:
    build, message = MALFORMED_XLSX[case]
    aid = _open(runtime, estate)
    with pytest.raises(ValidationError) as exc:
        _import(runtime, aid, build())
    assert message in exc.value.message
    with runtime.store.session() as s:
        row = s.get_one(Assessment, aid)
        assert row.status is AssessmentStatus.SENT and row.answers == {}
