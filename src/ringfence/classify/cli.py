"""``ringfence scan PATH|-``: classify files, directories, NDJSON, CSV or stdin.

Output as a table, JSON or SARIF 2.1.0; exits 1 when any input reaches ``--fail-on`` (default
restricted) so it can gate CI. Findings show masked previews only: this command never prints,
logs or writes a detected value.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from ringfence.classify import (
    DEFAULT_MIN_CONFIDENCE,
    Classifier,
    ScanResult,
    catalogue,
    default_classifier,
    load_custom_detectors,
)
from ringfence.core.errors import ConfigError, ValidationError
from ringfence.core.levels import DataClass

app = typer.Typer(help="Classification and DLP: scan data, list data types.", no_args_is_help=True)

STREAM_OVER = 8 << 20
_EXT_TYPES = {
    ".json": "application/json",
    ".ndjson": "application/x-ndjson",
    ".jsonl": "application/x-ndjson",
    ".csv": "text/csv",
}


class ScanFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    SARIF = "sarif"


def _content_type(path: Path | None, given: str | None) -> str | None:
    if given:
        return given
    if path is None:
        return None
    return _EXT_TYPES.get(path.suffix.lower(), "text/plain")


def _files(target: Path) -> Iterator[Path]:
    if target.is_file():
        yield target
        return
    for p in sorted(target.rglob("*")):
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(target).parts):
            yield p


def _scan_file(c: Classifier, path: Path, ctype: str | None) -> ScanResult:
    ct = _content_type(path, ctype)
    if path.stat().st_size > STREAM_OVER and ct in (None, "text/plain"):
        with path.open("rb") as fh:
            return c.scan_stream(iter(lambda: fh.read(1 << 20), b""))
    return c.scan(path.read_bytes(), ct)


def _load_detectors(path: Path | None) -> tuple[Any, ...]:
    if path is None:
        return ()
    from ruamel.yaml import YAML

    try:
        doc = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except Exception as e:
        raise ConfigError(f"{path}: not valid YAML ({type(e).__name__})") from None
    if isinstance(doc, dict) and isinstance(doc.get("classify"), list):
        # A ringfence.yaml: the detector entries of its ``classify:`` section (name -> id).
        doc = [
            {("id" if k == "name" else k): v for k, v in e.items() if k != "description"}
            for e in doc["classify"]
            if isinstance(e, dict) and "pattern" in e
        ]
    elif isinstance(doc, dict):
        doc = (doc.get("classify") or {}).get("detectors", doc.get("detectors"))
    if not isinstance(doc, list):
        raise ConfigError(f"{path}: expected a list of detectors (or classify.detectors)")
    return load_custom_detectors(doc)


def _sarif(results: list[tuple[str, ScanResult]]) -> dict[str, Any]:
    types = {row["id"]: row for row in catalogue()}
    used = sorted({f.type_id for _, r in results for f in r.findings})
    level = {3: "error", 2: "warning", 1: "note", 0: "none"}
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "ringfence-classify",
                        "informationUri": "https://ringfence.dev/docs/classification",
                        "rules": [
                            {
                                "id": t,
                                "name": types.get(t, {}).get("name", t),
                                "shortDescription": {"text": types.get(t, {}).get("name", t)},
                                "properties": {"class": types.get(t, {}).get("class", "")},
                            }
                            for t in used
                        ],
                    }
                },
                "results": [
                    {
                        "ruleId": f.type_id,
                        "level": level[int(f.data_class)],
                        "message": {
                            "text": f"{f.type_id} ({f.data_class.label}) at {f.path}: {f.preview}"
                        },
                        "locations": [
                            {
                                "physicalLocation": {"artifactLocation": {"uri": name}},
                                "logicalLocations": [{"fullyQualifiedName": f.path}],
                            }
                        ],
                        "properties": {
                            "confidence": round(f.confidence, 3),
                            "start": f.start,
                            "end": f.end,
                        },
                    }
                    for name, r in results
                    for f in r.findings
                ],
            }
        ],
    }


@app.command("scan")
def scan_command(
    target: Annotated[str, typer.Argument(help="A file, a directory, or - for stdin.")],
    output: Annotated[
        ScanFormat, typer.Option("--format", "-f", help="table, json or sarif.")
    ] = ScanFormat.TABLE,
    fail_on: Annotated[
        str, typer.Option(help="Exit 1 when an input reaches this class.")
    ] = "restricted",
    content_type: Annotated[
        str | None, typer.Option(help="Content type (default: from the extension, or sniffed).")
    ] = None,
    min_confidence: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.5,
    detectors: Annotated[
        Path | None,
        typer.Option(help="YAML list of custom detectors, or a ringfence.yaml (classify:)."),
    ] = None,
) -> None:
    """Classify data; findings are masked, never the raw values."""
    threshold = DataClass.parse(fail_on)
    custom = _load_detectors(detectors)
    c = (
        Classifier(custom=custom, min_confidence=min_confidence)
        if custom or min_confidence != DEFAULT_MIN_CONFIDENCE
        else default_classifier()
    )
    results: list[tuple[str, ScanResult]] = []
    if target == "-":
        results.append(("-", c.scan(sys.stdin.buffer.read(), content_type)))
    else:
        root = Path(target)
        if not root.exists():
            raise ValidationError(f"{target}: no such file or directory")
        files = list(_files(root))
        err = Console(stderr=True)
        with Progress(console=err, transient=True, disable=len(files) < 2) as progress:
            task = progress.add_task("scanning", total=len(files))
            for p in files:
                results.append((str(p), _scan_file(c, p, content_type)))
                progress.advance(task)
    _emit(results, output)
    if any(r.data_class >= threshold and r.findings for _, r in results):
        raise typer.Exit(1)


def _emit(results: list[tuple[str, ScanResult]], output: ScanFormat) -> None:
    out = Console(highlight=False, soft_wrap=True)
    if output is ScanFormat.JSON:
        body = [{"input": name, **r.to_dict()} for name, r in results]
        sys.stdout.write(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    if output is ScanFormat.SARIF:
        sys.stdout.write(orjson.dumps(_sarif(results), option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    table = Table("input", "field", "type", "class", "conf", "preview")
    for name, r in results:
        for f in r.findings:
            table.add_row(
                escape(name),
                escape(f.path),
                f.type_id,
                f.data_class.label,
                f"{f.confidence:.2f}",
                escape(f.preview),
            )
    if table.row_count:
        out.print(table)
    worst = max((r.data_class for _, r in results), default=DataClass.PUBLIC)
    n = sum(len(r.findings) for _, r in results)
    out.print(f"{len(results)} input(s), {n} finding(s), highest class: {worst.label}")


@app.command("types")
def types_command(
    output: Annotated[ScanFormat, typer.Option("--format", "-f")] = ScanFormat.TABLE,
) -> None:
    """List the built-in data types (id, class, validator)."""
    rows = catalogue()
    if output is not ScanFormat.TABLE:
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    table = Table("id", "name", "class", "category", "validator", "context")
    for row in rows:
        table.add_row(
            *(escape(row[k]) for k in ("id", "name", "class", "category", "validator", "context"))
        )
    Console().print(table)


def register(root: typer.Typer) -> None:
    """Add ``ringfence scan`` as a top-level command of the main CLI."""
    root.command("scan")(scan_command)
