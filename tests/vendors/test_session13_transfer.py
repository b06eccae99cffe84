"""Session 13 review (low): an import's problems quote at most 40 characters of a cell.

Before, a 10 KB workbook repeating one 32,000-character shared string as the question id of
1,000 rows made a 32 MB problem (every row's "unknown question" quoted the whole cell): the
API answered it, the CLI wrote it to stderr.
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from openpyxl import Workbook

from ringfence.core.errors import ValidationError
from ringfence.runtime import Runtime
from ringfence.store.models import Vendor
from ringfence.vendors import assessments as asm
from ringfence.vendors import transfer
from tests.vendors.conftest import Estate

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
_SST_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"


def _shared_string_workbook(text: str, rows: int) -> bytes:
    """A workbook whose question_id column repeats shared string 0 (``text``) ``rows`` times."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Questionnaire"
    plain = io.BytesIO()
    wb.save(plain)
    header = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>question_id</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>answer</t></is></c></row>'
    )
    body = "".join(f'<row r="{i}"><c r="A{i}" t="s"><v>0</v></c></row>' for i in range(2, rows + 2))
    sheet = f'<worksheet xmlns="{_MAIN}"><sheetData>{header}{body}</sheetData></worksheet>'
    sst = f'<sst xmlns="{_MAIN}" count="1" uniqueCount="1"><si><t>{text}</t></si></sst>'
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(plain.getvalue())) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z,
    ):
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = sheet.encode()
            elif info.filename == "[Content_Types].xml":
                override = f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_SST_TYPE}"/>'
                data = data.replace(b"</Types>", override.encode() + b"</Types>")
            elif info.filename == "xl/_rels/workbook.xml.rels":
                rel = f'<Relationship Id="rIdS" Type="{_REL}" Target="sharedStrings.xml"/>'
                data = data.replace(b"</Relationships>", rel.encode() + b"</Relationships>")
            z.writestr(info.filename, data)
        z.writestr("xl/sharedStrings.xml", sst)
    return out.getvalue()


def test_a_long_unknown_question_id_is_quoted_cut_short(runtime: Runtime, estate: Estate) -> None:
    content = _shared_string_workbook("Q" * 32_000, 1000)
    assert len(content) < 20_000
    with runtime.store.session() as s:
        row = asm.send(s, s.get_one(Vendor, estate.vendor_id), runtime.clock).assessment
        with pytest.raises(ValidationError) as exc:
            transfer.parse_answers(s, row, content, "xlsx")
    problem = json.dumps({**exc.value.to_problem(), "errors": exc.value.errors})
    assert len(problem) < 300_000, len(problem)
    unknown = [e["problem"] for e in exc.value.errors if e["cell"] == "A2"]
    assert unknown == ["unknown question '" + "Q" * 40 + "…'"]
