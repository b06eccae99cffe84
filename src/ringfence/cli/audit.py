"""``ringfence audit``: verify the control-plane audit chain, show recent records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from ringfence.cli.common import DataDirOpt, OutputOpt, open_runtime
from ringfence.cli.output import OutputFormat, console, emit_json, emit_table, err_console
from ringfence.store import audit as chain
from ringfence.store.models import AuditRecord

app = typer.Typer(help="Tamper-evident control-plane audit log.", no_args_is_help=True)


AnchorsOpt = Annotated[
    Path | None,
    typer.Option(
        "--anchors",
        help="Anchor file to check against (default: the configured anchor file, if present).",
    ),
]


@app.command("verify")
def verify(
    anchors: AnchorsOpt = None,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Recompute the hash chain; exit 1 and name each broken record if it was tampered with.

    With anchors (see `audit anchor`) it also sees a cut-off tail or a re-hashed chain."""
    rt = open_runtime(data_dir)
    try:
        path = anchors or rt.settings.resolved_audit_anchor_file
        marks = chain.read_anchors(path) if anchors or path.exists() else []
        result = chain.verify(rt.store, marks)
    finally:
        rt.close()
    if output is OutputFormat.JSON:
        emit_json(
            {
                "ok": result.ok,
                "records": result.records,
                "head": result.head,
                "anchors_checked": len(marks),
                # without an anchor a cut-off tail (the newest records deleted) looks intact
                "tail_checked": bool(marks),
                "problems": [p.__dict__ for p in result.problems],
            }
        )
    elif result.ok:
        console.print(
            f"audit chain intact: {result.records} records, head {result.head[:16]}"
            + (f", {len(marks)} anchor(s) match" if marks else ", no anchors to check")
        )
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
            err_console.print(f"[bold red]record {p.seq}[/] ({p.record_id}): {p.problem}")
        err_console.print(f"[bold red]audit chain broken[/]: {len(result.problems)} problem(s)")
    if not result.ok:
        raise typer.Exit(1)


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
