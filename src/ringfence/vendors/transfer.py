"""Questionnaire export and import as XLSX (openpyxl) or CSV.

Import policy (documented in docs/vendors.md): all or nothing. The whole file is validated
first; if any row or cell is invalid, nothing is imported, the assessment stays open, and the
error lists every problem with its row, column and cell (``H7``). Only a fully valid file is
recorded, through the same single-use submission as the web form. Exports neutralise cells
that a spreadsheet would run as a formula (CSV/formula injection). This module never evaluates
a formula from an imported file: values are read as stored.
"""

from __future__ import annotations

import csv
import io
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from sqlalchemy.orm import Session

from ringfence.core.clock import Clock
from ringfence.core.errors import ConflictError, ValidationError
from ringfence.vendors.assessments import questions_of, record_answers
from ringfence.vendors.bank import Question, default_bank, validate_answers
from ringfence.vendors.models import Assessment, AssessmentStatus, VendorDocument

COLUMNS = (
    "question_id",
    "domain",
    "question",
    "answer_type",
    "allowed_answers",
    "applies_when",
    "weight",
    "answer",
)
REQUIRED_COLUMNS = ("question_id", "answer")
MAX_IMPORT_BYTES = 5 * 1024 * 1024
# What an XLSX may unpack to (all members together); a real questionnaire is well under 1 MiB.
# zipfile never inflates a member past its declared size, so checking the directory suffices.
MAX_XLSX_UNPACKED = 16 * 1024 * 1024
MAX_XLSX_MEMBERS = 200
MAX_ROWS = 1000
FORMATS = ("xlsx", "csv")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe_cell(value: str) -> str:
    """Text a spreadsheet can hold and will not run: control characters that XML cannot carry
    become U+FFFD (answers stored before they were refused must never break an export), and
    text a spreadsheet would treat as a formula is prefixed with an apostrophe."""
    value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def _rows(assessment: Assessment) -> list[list[str]]:
    out = []
    for q in questions_of(assessment):
        allowed = " | ".join(q.choices) if q.type.value in ("yesno", "choice") else ""
        if q.type.value == "evidence":
            allowed = "id of a document uploaded through the questionnaire link"
        when = f"{q.when.question} = {q.when.equals}" if q.when else ""
        answer = str(assessment.answers.get(q.id, ""))
        cells = [q.id, q.domain, q.text, q.type.value, allowed, when, str(q.weight), answer]
        out.append([_safe_cell(cell) for cell in cells])
    return out


def export_assessment(assessment: Assessment, fmt: str, vendor_name: str) -> bytes:
    """The questionnaire (with any answers already given) as XLSX or CSV bytes."""
    if fmt not in FORMATS:
        raise ValidationError(f"unknown export format {fmt!r}; expected xlsx or csv")
    rows = _rows(assessment)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
        return buf.getvalue().encode("utf-8-sig")
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Questionnaire"
    ws.append(list(COLUMNS))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(row)
    for col, width in zip("ABCDEFGH", (12, 8, 80, 10, 40, 18, 7, 30), strict=True):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "A2"
    about = wb.create_sheet("About")
    for key, value in (
        ("vendor", vendor_name),
        ("assessment_id", assessment.id),
        ("template", assessment.template),
        ("template_version", assessment.template_version),
        ("instructions", "Fill the 'answer' column only. Use the allowed answers as written."),
        ("import policy", "A file with any invalid row is rejected as a whole; fix and resend."),
    ):
        about.append([key, _safe_cell(value)])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@dataclass(frozen=True)
class _Row:
    number: int
    cells: dict[str, Any]


_SHOWN = 40


def _cut(value: object) -> str:
    """A cell's text as a problem may quote it: at most 40 characters. A file's cells are the
    sender's: a 10 KB workbook repeating one 32,000-character shared string in 1,000 rows made
    a 32 MB problem (each row's 'unknown question' quoted the whole cell)."""
    text = str(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


def _problem(
    row: int | None, column: str | None, letters: dict[str, str], msg: str
) -> dict[str, Any]:
    cell = f"{letters[column]}{row}" if row and column and column in letters else None
    return {"row": row, "column": column, "cell": cell, "problem": msg}


def _check_unpacked_size(content: bytes) -> None:
    """Refuse a zip bomb before openpyxl inflates it (shared strings are read whole)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ValidationError(f"not a readable XLSX workbook ({type(exc).__name__})") from None
    if len(members) > MAX_XLSX_MEMBERS:
        raise ValidationError(f"the XLSX file has more than {MAX_XLSX_MEMBERS} members")
    unpacked = sum(m.file_size for m in members)
    if unpacked > MAX_XLSX_UNPACKED:
        raise ValidationError(
            f"the XLSX file unpacks to {unpacked} bytes; the limit is {MAX_XLSX_UNPACKED}"
        )


# Everything a damaged workbook makes openpyxl (or zipfile, zlib, the XML parser) raise while it
# reads lazily: truncated or garbage XML is a SyntaxError (ElementTree's and lxml's ParseError),
# a bad cell reference a ValueError, a missing member a KeyError, a corrupt deflate stream
# zlib.error or BadZipFile, a workbook without sheets an IndexError.
_UNREADABLE = (
    InvalidFileException,
    zipfile.BadZipFile,
    zlib.error,
    SyntaxError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    ArithmeticError,
    EOFError,
    OSError,
)


def _unreadable(exc: BaseException, where: str) -> ValidationError:
    detail = str(exc).strip().replace("\n", " ")[:160]
    reason = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return ValidationError(f"{where} ({reason})")


def _read_xlsx(content: bytes) -> tuple[list[str], list[_Row], dict[str, Any]]:
    _check_unpacked_size(content)
    try:
        wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except _UNREADABLE as exc:
        raise _unreadable(exc, "not a readable XLSX workbook") from None
    sheet = "About"
    try:
        if not wb.sheetnames:
            raise ValidationError("the XLSX workbook has no readable sheet")
        meta: dict[str, Any] = {}
        if "About" in wb.sheetnames:
            for r in wb["About"].iter_rows(max_row=50, max_col=2, values_only=True):
                if r and r[0] is not None:
                    meta[str(r[0])] = r[1] if len(r) > 1 else None
        sheet = "Questionnaire" if "Questionnaire" in wb.sheetnames else wb.sheetnames[0]
        it = wb[sheet].iter_rows(values_only=True)
        header = [str(h).strip().lower() if h is not None else "" for h in next(it, ())]
        rows = []
        for n, values in enumerate(it, start=2):
            if n > MAX_ROWS + 1:
                raise ValidationError(f"the file has more than {MAX_ROWS} rows")
            rows.append(_Row(n, dict(zip(header, values, strict=False))))
    except _UNREADABLE as exc:
        raise _unreadable(exc, f"the XLSX sheet {sheet!r} cannot be read") from None
    finally:
        wb.close()
    return header, rows, meta


def _read_csv(content: bytes) -> tuple[list[str], list[_Row], dict[str, Any]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError("CSV file is not UTF-8 encoded") from None
    try:
        reader = csv.reader(io.StringIO(text))
        header = [h.strip().lower() for h in next(reader, [])]
        rows = []
        for n, values in enumerate(reader, start=2):
            if n > MAX_ROWS + 1:
                raise ValidationError(f"the file has more than {MAX_ROWS} rows")
            if len(values) > len(header):
                rows.append(_Row(n, {"__extra__": True, **dict(zip(header, values, strict=False))}))
            else:
                rows.append(_Row(n, dict(zip(header, values, strict=False))))
    except csv.Error as exc:
        raise ValidationError(f"CSV file is malformed: {exc}") from None
    return header, rows, {}


def detect_format(content: bytes, filename: str | None = None) -> str:
    if content[:4] == b"PK\x03\x04":
        return "xlsx"
    if filename and filename.lower().endswith(".xlsx"):
        return "xlsx"
    return "csv"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value).strip()
    # Our own export escapes formula-like text with an apostrophe; take it back off.
    return text[1:] if text.startswith("'") and text[1:2] in _FORMULA_START else text


def parse_answers(
    session: Session,
    assessment: Assessment,
    content: bytes,
    fmt: str | None = None,
    filename: str | None = None,
) -> dict[str, str]:
    """Validate the whole file against the assessment; every problem named by row and cell."""
    if not content:
        raise ValidationError("the file is empty")
    if len(content) > MAX_IMPORT_BYTES:
        raise ValidationError(f"the file is larger than {MAX_IMPORT_BYTES} bytes")
    fmt = fmt or detect_format(content, filename)
    if fmt not in FORMATS:
        raise ValidationError(f"unknown import format {fmt!r}; expected xlsx or csv")
    header, rows, meta = _read_xlsx(content) if fmt == "xlsx" else _read_csv(content)
    letters = {name: get_column_letter(i + 1) for i, name in enumerate(header) if name}
    missing_cols = [c for c in REQUIRED_COLUMNS if c not in letters]
    if missing_cols:
        raise ValidationError(
            f"header row is missing column(s): {', '.join(missing_cols)}",
            errors=[_problem(1, None, letters, f"missing column {c!r}") for c in missing_cols],
        )
    errors: list[dict[str, Any]] = []
    meta_id = meta.get("assessment_id")
    if meta_id and str(meta_id) != assessment.id:
        errors.append(
            {
                "row": None,
                "column": None,
                "cell": "About!B2",
                "problem": f"this file belongs to assessment {_cut(meta_id)}, not {assessment.id}",
            }
        )
    questions: dict[str, Question] = {q.id: q for q in questions_of(assessment)}
    raw: dict[str, object] = {}
    row_of: dict[str, int] = {}
    for row in rows:
        if row.cells.get("__extra__"):
            errors.append(_problem(row.number, None, letters, "more cells than header columns"))
            continue
        qid = _text(row.cells.get("question_id"))
        answer = _text(row.cells.get("answer"))
        if not qid and not answer and not any(_text(v) for v in row.cells.values()):
            continue  # blank line
        if not qid:
            errors.append(_problem(row.number, "question_id", letters, "question_id is empty"))
            continue
        if qid not in questions:
            unknown = f"unknown question {_cut(qid)!r}"
            errors.append(_problem(row.number, "question_id", letters, unknown))
            continue
        if qid in row_of:
            errors.append(
                _problem(
                    row.number,
                    "question_id",
                    letters,
                    f"question {qid} appears twice (first on row {row_of[qid]})",
                )
            )
            continue
        row_of[qid] = row.number
        raw[qid] = answer
    answers, answer_errors = validate_answers(list(questions.values()), raw)
    for err in answer_errors:
        qid = err["question"]
        number = row_of.get(qid)
        problem = err["problem"] if number else f"question {qid} is missing from the file"
        errors.append({**_problem(number, "answer", letters, problem), "question": qid})
    for qid, value in answers.items():
        if questions[qid].type.value == "evidence":
            doc = session.get(VendorDocument, value)
            if doc is None or doc.vendor_id != assessment.vendor_id:
                errors.append(
                    {
                        **_problem(row_of.get(qid), "answer", letters, "no such uploaded document"),
                        "question": qid,
                    }
                )
    if errors:
        errors.sort(key=lambda e: (e["row"] or 0, e["column"] or ""))
        first = "; ".join(f"{e['cell'] or 'file'}: {e['problem']}" for e in errors[:3])
        raise ValidationError(
            f"{len(errors)} problem(s) in the file; nothing was imported. {first}",
            errors=errors,
            code="import_rejected",
        )
    return answers


def import_answers(
    session: Session,
    assessment: Assessment,
    content: bytes,
    clock: Clock,
    *,
    fmt: str | None = None,
    filename: str | None = None,
) -> Assessment:
    """Record a questionnaire from a file: all rows valid, or nothing changes."""
    if assessment.status is not AssessmentStatus.SENT:
        raise ConflictError(
            f"assessment {assessment.id} is {assessment.status.value}; "
            "only an open (sent) assessment can be imported into",
            code="assessment_closed",
        )
    answers = parse_answers(session, assessment, content, fmt, filename)
    return record_answers(session, assessment, answers, clock, source="import", bank=default_bank())
