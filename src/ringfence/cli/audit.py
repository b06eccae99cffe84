"""``ringfence audit``: verify the control-plane audit chain, show recent records."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import select

from ringfence.cli.common import DataDirOpt, OutputOpt, open_runtime
from ringfence.cli.output import OutputFormat, console, emit_json, emit_table, err_console
from ringfence.store import audit as chain
from ringfence.store.models import AuditRecord

app = typer.Typer(help="Tamper-evident control-plane audit log.", no_args_is_help=True)


@app.command("verify")
def verify(data_dir: DataDirOpt = None, output: OutputOpt = OutputFormat.TABLE) -> None:
    """Recompute the hash chain; exit 1 and name each broken record if it was tampered with."""
    rt = open_runtime(data_dir)
    try:
        result = chain.verify(rt.store)
    finally:
        rt.close()
    if output is OutputFormat.JSON:
        emit_json(
            {
                "ok": result.ok,
                "records": result.records,
                "head": result.head,
                "problems": [p.__dict__ for p in result.problems],
            }
        )
    elif result.ok:
        console.print(f"audit chain intact: {result.records} records, head {result.head[:16]}")
    else:
        for p in result.problems:
            err_console.print(f"[bold red]record {p.seq}[/] ({p.record_id}): {p.problem}")
        err_console.print(f"[bold red]audit chain broken[/]: {len(result.problems)} problem(s)")
    if not result.ok:
        raise typer.Exit(1)


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
