"""``ringfence audit``: verify the control-plane audit chain, show recent records."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from sqlalchemy import select

from ringfence.cli.common import DataDirOpt, OutputOpt, open_runtime
from ringfence.cli.output import OutputFormat, console, emit_json, emit_table, err_console
from ringfence.store import audit as chain
from ringfence.store.models import AuditRecord

if TYPE_CHECKING:
    from ringfence.runtime import Runtime

app = typer.Typer(help="Tamper-evident control-plane audit log.", no_args_is_help=True)


AnchorsOpt = Annotated[
    Path | None,
    typer.Option(
        "--anchors",
        help="Anchor file to check against (default: the configured anchor file, if present).",
    ),
]


KeyFilesOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--key-file",
        help="Another master key file (0600) to check keyed records with, e.g. a key retired by "
        "`vault rotate-master` and kept offline. Repeatable.",
    ),
]

#: Exit status when nothing is wrong as far as could be checked, but some keyed records could
#: not be checked (their master key is not available): not a pass.
EXIT_NOT_FULLY_VERIFIED = 3


def _audit_keys(rt: Runtime, key_files: list[Path] | None) -> chain.AuditKeys:
    from ringfence.core.errors import ConfigError
    from ringfence.store.vault import read_key_file

    extra = []
    for path in key_files or []:
        if not path.is_file():
            raise ConfigError(f"--key-file {path}: no such file", code="key_file_not_found")
        extra.append(read_key_file(path))
    return chain.MasterKeyAuditKeys(
        rt.vault, key_file=rt.settings.resolved_master_key_file, extra=extra
    )


@app.command("verify")
def verify(
    anchors: AnchorsOpt = None,
    key_files: KeyFilesOpt = None,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Recheck every link of the chain; exit 1 and name each broken or forged record.

    Keyed links (HMAC under a key derived from the master key) are checked with the master
    key this installation is configured with, retired keys kept beside it and --key-file
    keys. Keyed records whose key is not available are not checked: they are listed, and the
    exit status is 3 (not fully verified). With anchors (see `audit anchor`) verify also sees
    a cut-off tail or a chain rewritten with fresh links."""
    rt = open_runtime(data_dir)
    try:
        path = anchors or rt.settings.resolved_audit_anchor_file
        marks = chain.read_anchors(path) if anchors or path.exists() else []
        result = chain.verify(rt.store, marks, keys=_audit_keys(rt, key_files))
    finally:
        rt.close()
    coverage = result.coverage()
    if output is OutputFormat.JSON:
        emit_json(
            {
                "ok": result.ok,
                # every keyed record's link was checked with its key
                "complete": result.complete,
                "records": result.records,
                "head": result.head,
                "keyed_from": result.keyed_from,
                "unkeyed_records": result.unkeyed,
                "keys_checked": list(result.keys_checked),
                "unchecked": [u.__dict__ for u in result.unchecked],
                "coverage": coverage,
                "anchors_checked": len(marks),
                # without an anchor a cut-off tail (the newest records deleted) looks intact
                "tail_checked": bool(marks),
                "problems": [p.__dict__ for p in result.problems],
            }
        )
    elif result.ok:
        keyed = f", keyed from record {result.keyed_from}" if result.keyed_from is not None else ""
        state = "intact" if result.complete else "[bold yellow]NOT fully verified[/]"
        console.print(
            f"audit chain {state}: {result.records} records, head {result.head[:16]}{keyed}"
            + (f", {len(marks)} anchor(s) match" if marks else ", no anchors to check"),
            highlight=False,
            soft_wrap=True,
        )
        for line in coverage:
            err_console.print(f"[bold yellow]note:[/] {line}", highlight=False, soft_wrap=True)
        if not marks:
            err_console.print(
                "[bold yellow]note:[/] without an anchor, deleting the newest records leaves a "
                "chain that still verifies: run `ringfence audit anchor` after changes and keep "
                "the anchor file (or the audit_anchor log events) off this machine — "
                "`ringfence serve` anchors on its own",
                highlight=False,
                soft_wrap=True,
            )
    else:
        for p in result.problems:
            err_console.print(
                # the record id is whatever the database holds: shown, never read as markup
                f"[bold red]record {p.seq}[/] ({escape(str(p.record_id))}): {escape(p.problem)}",
                highlight=False,
                soft_wrap=True,
            )
        for line in coverage:
            err_console.print(f"[bold yellow]note:[/] {line}", highlight=False, soft_wrap=True)
        err_console.print(f"[bold red]audit chain broken[/]: {len(result.problems)} problem(s)")
    if not result.ok:
        raise typer.Exit(1)
    if not result.complete:
        raise typer.Exit(EXIT_NOT_FULLY_VERIFIED)


@app.command("anchor")
def anchor(
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Append here (default: the configured anchor file)."),
    ] = None,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Record the chain's head (sequence number + hash) outside the database.

    Keep the file on other storage (or ship it / the `-o json` line to your SIEM): `audit
    verify` then also detects a cut-off tail and a chain rewritten with fresh hashes."""
    rt = open_runtime(data_dir)
    try:
        mark = chain.current_anchor(rt.store, rt.clock)
        path = file or rt.settings.resolved_audit_anchor_file
        if mark is not None:
            chain.append_anchor(path, mark)
    finally:
        rt.close()
    if mark is None:
        err_console.print("the audit log is empty: nothing to anchor yet")
        raise typer.Exit(1)
    if output is OutputFormat.JSON:
        emit_json({**mark.to_json(), "file": str(path)})
    else:
        console.print(f"anchored record {mark.seq} (head {mark.head[:16]}) in {path}")


@app.command("log")
def log(
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 50,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Show the most recent audit records."""
    rt = open_runtime(data_dir)
    try:
        with rt.store.session() as s:
            rows = [
                {
                    "seq": r.seq,
                    "ts": r.ts,
                    "actor": r.actor,
                    "action": r.action,
                    "entity_type": r.entity_type,
                    "entity_id": r.entity_id,
                    "before": r.before,
                    "after": r.after,
                }
                for r in s.scalars(
                    select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(limit)
                )
            ]
    finally:
        rt.close()
    emit_table(rows, ["seq", "ts", "actor", "action", "entity_type", "entity_id"], fmt=output)
