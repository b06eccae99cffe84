"""Questionnaire XLSX import: a small file that unpacks to a huge sheet (zip bomb) is refused
before openpyxl parses it, instead of costing minutes of CPU and gigabytes of memory."""

from __future__ import annotations

import io
import time
import zipfile

import pytest
from openpyxl import Workbook

from ringfence.core.errors import ValidationError
from ringfence.runtime import Runtime
from ringfence.store.models import Vendor
from ringfence.vendors import assessments as asm
from ringfence.vendors import transfer
from ringfence.vendors.models import Assessment


def _bomb(extra_header_cells: int) -> bytes:
    """A valid workbook whose header row carries ``extra_header_cells`` more cells."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Questionnaire"
    ws.append(["question_id", "answer"])
    plain = io.BytesIO()
    wb.save(plain)
    src = zipfile.ZipFile(io.BytesIO(plain.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                cell = b'<c t="inlineStr"><is><t>x</t></is></c>'
                data = data.replace(b"</row>", cell * extra_header_cells + b"</row>", 1)
            z.writestr(item, data)
    return out.getvalue()


def test_xlsx_zip_bomb_is_refused_quickly(runtime: Runtime) -> None:
    content = _bomb(800_000)  # ~30 MB of sheet XML in a ~100 KB file
    assert len(content) < transfer.MAX_IMPORT_BYTES
    with runtime.store.session() as s:
        vendor = Vendor(name="Acme")
        s.add(vendor)
        s.flush()
        aid = asm.send(s, vendor, runtime.clock, template="lite").assessment.id
    with runtime.store.session() as s:
        started = time.monotonic()
        with pytest.raises(ValidationError, match="unpacks to"):
            transfer.parse_answers(s, s.get_one(Assessment, aid), content, "xlsx")
        assert time.monotonic() - started < 2
