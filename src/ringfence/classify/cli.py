"""``ringfence scan PATH|-``: classify files, directories, NDJSON, CSV or stdin.

Output as a table, JSON or SARIF 2.1.0; exits 1 when any input reaches ``--fail-on`` (default
restricted) so it can gate CI. Findings show masked previews only: this command never prints,
logs or writes a detected value. A directory is read whole but for version-control metadata
(``.git`` ...): dotfiles such as ``.env`` are where secrets sit. Only regular files are read
from a directory (a FIFO or device there is skipped and counted on stderr, never opened); a
file given by name may also be a pipe (``<(cmd)``), read like stdin. Text in UTF-16 or UTF-32
(a byte-order mark, or the NUL pattern of ASCII text in them) is decoded before the scan, which
reads UTF-8: otherwise ``ann@corp.example`` with a NUL between the letters is never found.
"""

from __future__ import annotations

import codecs
import os
import select
import stat
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

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
from ringfence.classify._mask import mask_result_paths
from ringfence.core.errors import ConfigError, ValidationError
from ringfence.core.levels import DataClass

app = typer.Typer(help="Classification and DLP: scan data, list data types.", no_args_is_help=True)

STREAM_OVER = 8 << 20
_READ = 1 << 20
_SNIFF = 4096
#: Directories never read: version-control metadata, not content anyone commits or ships.
SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".bzr"})
MAX_DETECTORS_FILE = 4 << 20
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


def _files(target: Path, skipped: list[Path]) -> Iterator[Path]:
    """Regular files under ``target`` (symlinks to files followed, to directories not), sorted;
    anything else that is not a directory is added to ``skipped``."""
    for p in sorted(target.rglob("*")):
        rel = p.relative_to(target).parts
        if any(part in SKIP_DIRS for part in rel):
            continue
        try:
            mode = p.stat().st_mode
        except OSError:  # a dangling symlink, or gone since it was listed
            skipped.append(p)
            continue
        if stat.S_ISREG(mode):
            yield p
        elif not stat.S_ISDIR(mode):
            skipped.append(p)


def _open(path: Path, *, pipe_ok: bool) -> tuple[Any, int | None]:
    """The file opened for reading without blocking on a FIFO, and its size (None: a pipe).

    Checked on the open descriptor, so a file swapped for a FIFO or a device after it was
    listed is refused rather than read forever."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if stat.S_ISFIFO(st.st_mode) and pipe_ok:
            # O_NONBLOCK opened it without waiting for a writer, and a read before one has
            # opened it is end-of-file: an empty scan, exit 0 — a CI gate passing on nothing.
            # Wait as stdin would: until the pipe holds data or a writer has come and gone
            # (Linux reports no hang-up on a FIFO no writer has opened since this open).
            waiting = select.poll()
            waiting.register(fd, select.POLLIN)
            waiting.poll()
            os.set_blocking(fd, True)
            return os.fdopen(fd, "rb"), None
        if not stat.S_ISREG(st.st_mode):
            raise ValidationError(f"{_shown(str(path))}: not a regular file, directory or pipe")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), st.st_size
    except BaseException:
        os.close(fd)
        raise


def _encoding(head: bytes) -> str | None:
    """The encoding of text that is not UTF-8 but UTF-16/32 (BOM or NUL pattern), else None."""
    for bom, enc in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if head.startswith(bom):
            return enc
    sample = head[: _SNIFF - _SNIFF % 4]
    if len(sample) < 4 or sample.count(0) * 3 < len(sample):
        return None
    # ASCII text in UTF-16/32 without a BOM: NUL in the high bytes of (nearly) every unit
    for enc, size, zero in (
        ("utf-32-le", 4, (1, 2, 3)),
        ("utf-32-be", 4, (0, 1, 2)),
        ("utf-16-le", 2, (1,)),
        ("utf-16-be", 2, (0,)),
    ):
        units = len(sample) // size
        if all(sample[z::size].count(0) * 10 >= units * 9 for z in zero):
            return enc
    return None


def _chunks(fh: Any) -> Iterator[bytes]:
    """The file's bytes as UTF-8, chunk by chunk (text in UTF-16/32 transcoded)."""
    head = fh.read(_SNIFF)
    enc = _encoding(head)
    rest = iter(lambda: fh.read(_READ), b"")
    if enc is None:
        if head:
            yield head
        yield from rest
        return
    dec = codecs.getincrementaldecoder(enc)("replace")
    for chunk in _prepend(head, rest):
        text = dec.decode(chunk)
        if text:
            yield text.encode("utf-8", "surrogatepass")
    tail = dec.decode(b"", final=True)
    if tail:
        yield tail.encode("utf-8", "surrogatepass")


def _prepend(head: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield head
    yield from rest


def _scan_handle(c: Classifier, fh: Any, ct: str | None, size: int | None) -> ScanResult:
    """Scan a whole input when it is small enough to parse, else stream it as text (bounded
    memory: a huge file or an endless pipe is never read into memory whole)."""
    structured = ct not in (None, "text/plain")
    limit = c.max_structured_bytes if structured else STREAM_OVER
    chunks = _chunks(fh)
    if size is not None and size > limit * 4:  # (UTF-32 is 4 bytes per character)
        return c.scan_stream(chunks)
    buf = bytearray()
    for chunk in chunks:
        buf += chunk
        if len(buf) > limit:
            return c.scan_stream(_prepend(bytes(buf), chunks))
    return c.scan(bytes(buf), ct)


def _scan_file(
    c: Classifier, path: Path, ctype: str | None, *, pipe_ok: bool = False
) -> ScanResult:
    fh, size = _open(path, pipe_ok=pipe_ok)
    with fh:
        return _scan_handle(c, fh, _content_type(path, ctype), size)


def _shown(name: str) -> str:
    """A file name as it may be printed: undecodable bytes and control characters escaped
    (a name holding ESC sequences must not drive the terminal; JSON needs valid UTF-8)."""
    name = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if name.isprintable():
        return name
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in name)


def _uri(name: str) -> str:
    """A SARIF artifact URI: the path, percent-encoded (spaces, ``#``, ``%``, raw bytes)."""
    if name == "-":
        return name
    return quote(os.fsencode(Path(name).as_posix()), safe="/")


def _load_detectors(path: Path | None) -> tuple[Any, ...]:
    if path is None:
        return ()
    from ruamel.yaml import YAML

    fh, _ = _open(path, pipe_ok=True)
    with fh:
        raw = fh.read(MAX_DETECTORS_FILE + 1)
    if len(raw) > MAX_DETECTORS_FILE:
        raise ConfigError(f"{_shown(str(path))}: larger than {MAX_DETECTORS_FILE} bytes")
    try:
        doc = YAML(typ="safe").load(raw.decode("utf-8"))
    except Exception as e:
        raise ConfigError(f"{_shown(str(path))}: not valid YAML ({type(e).__name__})") from None
    if isinstance(doc, dict) and isinstance(doc.get("classify"), list):
        # A ringfence.yaml: the detector entries of its ``classify:`` section (name -> id).
        doc = [
            {("id" if k == "name" else k): v for k, v in e.items() if k != "description"}
            for e in doc["classify"]
            if isinstance(e, dict) and "pattern" in e
        ]
    elif isinstance(doc, dict):
        section = doc.get("classify")
        doc = section.get("detectors") if isinstance(section, dict) else doc.get("detectors")
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
                                "physicalLocation": {"artifactLocation": {"uri": _uri(name)}},
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
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if target == "-":
        results.append(("-", _scan_handle(c, sys.stdin.buffer, content_type, None)))
    else:
        root = Path(target)
        if not root.exists():
            raise ValidationError(f"{_shown(target)}: no such file or directory")
        if not root.is_dir():
            results.append((target, _scan_file(c, root, content_type, pipe_ok=True)))
        else:
            skipped: list[Path] = []
            files = list(_files(root, skipped))
            with Progress(console=err, transient=True, disable=len(files) < 2) as progress:
                task = progress.add_task("scanning", total=len(files))
                for p in files:
                    results.append((str(p), _scan_file(c, p, content_type)))
                    progress.advance(task)
            if skipped:
                err.print(
                    f"skipped {len(skipped)} entr{'y' if len(skipped) == 1 else 'ies'} that "
                    f"are not regular files (FIFOs, devices, sockets, dangling links), e.g. "
                    f"{escape(_shown(str(skipped[0])))}"
                )
    # a key that is itself data (a map keyed by e-mail) is masked in the paths shown
    results = [(name, mask_result_paths(r, c.scan_text)) for name, r in results]
    _emit(results, output)
    if any(r.data_class >= threshold and r.findings for _, r in results):
        raise typer.Exit(1)


def _emit(results: list[tuple[str, ScanResult]], output: ScanFormat) -> None:
    out = Console(highlight=False, soft_wrap=True)
    if output is ScanFormat.JSON:
        body = [{"input": _shown(name), **r.to_dict()} for name, r in results]
        sys.stdout.write(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    if output is ScanFormat.SARIF:
        sys.stdout.write(orjson.dumps(_sarif(results), option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    table = Table("input", "field", "type", "class", "conf", "preview")
    for name, r in results:
        for f in r.findings:
            table.add_row(
                escape(_shown(name)),
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
