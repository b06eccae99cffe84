"""Review 10: ``ringfence scan`` reads what a CI gate must read, and never hangs or crashes.

Each case failed before: dotfiles (``.env``) were skipped, text in UTF-16/32 passed with no
finding (exit 0), a device or FIFO given by name was "0 input(s)" (exit 0), a file name that is
not UTF-8 crashed every output format, one holding ESC sequences reached the terminal raw,
SARIF URIs were not percent-encoded, and a huge JSON file or stdin was read whole.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from ringfence.classify import ScanResult
from ringfence.classify.cli import app
from ringfence.core.errors import RingfenceError

runner = CliRunner()
SSN_LINE = "name,ssn\nJane,536-90-4399\n"


def _json(res: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = orjson.loads(res.stdout)
    return out


def test_dotfiles_are_scanned_and_vcs_metadata_is_not(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("GITHUB_TOKEN=ghp_R7aXk3mQ9vL2pT8nW4sY6zB1cD5fG0hJ3kL9\n")
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "credentials").write_text("ssn 536-90-4399\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("ssn 536-90-4399\n")
    res = runner.invoke(app, ["scan", str(tmp_path), "-f", "json"])
    assert res.exit_code == 1
    names = {Path(r["input"]).relative_to(tmp_path).as_posix(): r for r in _json(res)}
    assert set(names) == {".env", ".aws/credentials"}
    assert names[".env"]["class"] == "restricted"
    assert "ghp_R7aX" not in res.stdout


@pytest.mark.parametrize(
    ("encoding", "name"),
    [
        ("utf-16", "u16.csv"),  # BOM
        ("utf-32", "u32.csv"),  # BOM
        ("utf-16-le", "u16le.txt"),  # no BOM: NUL after every ASCII byte
        ("utf-16-be", "u16be.txt"),
    ],
)
def test_utf16_and_utf32_text_is_decoded(tmp_path: Path, encoding: str, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(SSN_LINE.encode(encoding))
    res = runner.invoke(app, ["scan", str(path), "-f", "json"])
    assert res.exit_code == 1, res.stdout
    assert _json(res)[0]["findings"][0]["type"] == "us_social_security_number"


def test_utf16_on_stdin_is_decoded() -> None:
    res = runner.invoke(app, ["scan", "-", "-f", "json"], input=SSN_LINE.encode("utf-16"))
    assert res.exit_code == 1 and _json(res)[0]["class"] == "restricted"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_device_given_by_name_is_an_error_not_a_silent_pass(tmp_path: Path, device: str) -> None:
    link = tmp_path / "data.json"
    link.symlink_to(device)
    for target in (device, str(link)):
        res = runner.invoke(app, ["scan", target])
        assert isinstance(res.exception, RingfenceError), (target, res.stdout)
        assert "not a regular file" in str(res.exception)


@pytest.mark.timeout(120)
def test_a_fifo_given_by_name_is_read_like_stdin(tmp_path: Path) -> None:
    fifo = tmp_path / "in.txt"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "w") as fh:
            fh.write("SSN 536-90-4399")

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    res = runner.invoke(app, ["scan", str(fifo), "-f", "json"])
    writer.join(10)
    assert res.exit_code == 1 and _json(res)[0]["class"] == "restricted"


@pytest.mark.timeout(120)
def test_special_files_in_a_directory_are_skipped_and_counted(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.json")  # nobody writes: opening it would block forever
    (tmp_path / "zero.txt").symlink_to("/dev/zero")  # reading it would never end
    (tmp_path / "a.txt").write_text("SSN 536-90-4399")
    res = runner.invoke(app, ["scan", str(tmp_path), "-f", "json"])
    assert res.exit_code == 1
    assert [Path(r["input"]).name for r in _json(res)] == ["a.txt"]
    assert "skipped 2 entries" in res.stderr


def test_file_names_that_are_not_utf8_or_hold_escapes_are_shown_escaped(tmp_path: Path) -> None:
    os.makedirs(tmp_path, exist_ok=True)
    bad = os.path.join(os.fsencode(tmp_path), b"\xff bad.json")
    with open(bad, "w") as fh:
        fh.write('{"ssn": "536-90-4399"}')
    (tmp_path / "x\x1b[2J\x1b]0;owned\x07.json").write_text('{"ssn": "536-90-4399"}')
    for fmt in ("json", "sarif", "table"):
        res = runner.invoke(app, ["scan", str(tmp_path), "-f", fmt])
        assert res.exit_code == 1, (fmt, res.exception)
        assert "\x1b" not in res.stdout and "\x07" not in res.stdout
        if fmt == "json":
            assert "\\xff bad.json" in res.stdout.replace("\\\\", "\\")
        if fmt == "sarif":
            assert "%FF%20bad.json" in res.stdout


def test_sarif_uris_are_percent_encoded(tmp_path: Path) -> None:
    (tmp_path / "a b#c%.json").write_text('{"ssn": "536-90-4399"}')
    res = runner.invoke(app, ["scan", str(tmp_path), "-f", "sarif"])
    uri = orjson.loads(res.stdout)["runs"][0]["results"][0]["locations"][0]["physicalLocation"][
        "artifactLocation"
    ]["uri"]
    assert uri.endswith("/a%20b%23c%25.json")


class _Recorder:
    """Stands in for a Classifier: says whether the input was parsed whole or streamed."""

    max_structured_bytes = 1000

    def __init__(self) -> None:
        self.streamed = 0

    def scan(self, body: bytes, content_type: str | None = None) -> ScanResult:
        raise AssertionError(f"read whole: {len(body)} bytes")

    def scan_stream(self, chunks: Any) -> ScanResult:
        self.streamed = sum(len(c) for c in chunks)
        return ScanResult((), 0, "text")  # type: ignore[arg-type]


class _Endless:
    """A pipe that never ends (``cat /dev/zero | ringfence scan -``), cut off for the test."""

    def __init__(self, total: int) -> None:
        self.left = total

    def read(self, n: int) -> bytes:
        n = min(n, self.left)
        self.left -= n
        return b"a" * n


@pytest.mark.parametrize(("ctype", "size"), [("application/json", None), (None, None)])
def test_large_inputs_are_streamed_not_read_whole(ctype: str | None, size: int | None) -> None:
    from ringfence.classify.cli import _scan_handle  # (new in review 10)

    rec = _Recorder()
    total = (8 << 20) + 5000
    _scan_handle(rec, _Endless(total), ctype, size)  # type: ignore[arg-type]
    assert rec.streamed == total


@pytest.mark.timeout(60)
def test_a_fifo_whose_writer_comes_late_is_read_not_taken_as_empty(tmp_path: Path) -> None:
    """Session 12: the FIFO was opened without waiting for a writer, and a read before the
    writer opened it was end-of-file — an empty scan, exit 0 (a flaky CI run of the test above
    showed it). The scan now waits for the writer, as it does on stdin."""
    import time

    fifo = tmp_path / "late.txt"
    os.mkfifo(fifo)

    def feed() -> None:
        time.sleep(0.5)
        with open(fifo, "w") as fh:
            fh.write("SSN 536-90-4399")

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    res = runner.invoke(app, ["scan", str(fifo), "-f", "json"])
    writer.join(10)
    assert res.exit_code == 1 and _json(res)[0]["class"] == "restricted"
