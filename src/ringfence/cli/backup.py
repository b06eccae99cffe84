"""``ringfence backup create | verify | restore``: encrypted backups of the store.

The backup is sealed with a key derived from the master key, which is never inside it: keep
the master key (or ``RINGFENCE_MASTER_KEY``) safe separately. Restore goes only into an empty
store and proves the result (row digests, audit chain, every secret decrypting).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ringfence.cli.common import DataDirOpt, OutputOpt, open_runtime, settings_for
from ringfence.cli.output import OutputFormat, console, emit_json, emit_table, err_console
from ringfence.runtime import private_sqlite_file
from ringfence.store import audit
from ringfence.store import backup as bk

app = typer.Typer(help="Encrypted, verified backups and restore.", no_args_is_help=True)

BackupFile = Annotated[
    Path, typer.Argument(help="The backup file.", dir_okay=False, show_default=False)
]


def _progress(enabled: bool) -> tuple[Progress | None, Any]:
    if not enabled:
        return None, None
    bar = Progress(
        TextColumn("{task.description:<32}"),
        BarColumn(),
        TextColumn("{task.completed:>10,} rows"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    tasks: dict[str, Any] = {}

    def update(table: str, rows: int) -> None:
        if table not in tasks:
            tasks[table] = bar.add_task(table, total=None)
        bar.update(tasks[table], completed=rows)

    return bar, update


def _table_rows(tables: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"table": name, "rows": t["rows"], "sha256": t["sha256"][:16]}
        for name, t in tables.items()
        if t["rows"]
    ]


@app.command("create")
def create(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="New file to write (default: <data_dir>/backups/…)."),
    ] = None,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Write an encrypted backup of every table (one consistent snapshot)."""
    rt = open_runtime(data_dir)
    try:
        stamp = rt.clock.now().strftime("%Y%m%dT%H%M%SZ")
        path = out or rt.settings.data_dir / "backups" / f"ringfence-{stamp}.rfbak"
        # The store's chain must hold every anchored record: a cut-off tail is found now,
        # not when the backup is restored.
        anchor_file = rt.settings.resolved_audit_anchor_file
        marks = audit.read_anchors(anchor_file) if anchor_file.exists() else []
        bar, update = _progress(output is OutputFormat.TABLE)
        if bar is not None:
            with bar:
                report = bk.create_backup(
                    rt.store, rt.vault, path, clock=rt.clock, progress=update, anchors=marks
                )
        else:
            report = bk.create_backup(rt.store, rt.vault, path, clock=rt.clock, anchors=marks)
        audit.append_standalone(
            rt.store,
            actor="cli",
            action="backup.created",
            entity_type="backup",
            entity_id=report.path.name,
            after={"rows": report.rows, "bytes": report.bytes, "master_key_id": report.key_id},
            clock=rt.clock,
        )
    finally:
        rt.close()
    if output is OutputFormat.JSON:
        emit_json(
            {
                "file": str(report.path),
                "created_at": report.created_at.isoformat(),
                "revisions": list(report.revisions),
                "master_key_id": report.key_id,
                "bytes": report.bytes,
                "rows": report.rows,
                "tables": report.tables,
            }
        )
        return
    console.print(
        f"wrote {report.path} ({report.bytes:,} bytes, {report.rows:,} rows, "
        f"{sum(1 for t in report.tables.values() if t['rows'])} tables with data), sealed with "
        f"master key {report.key_id} — keep that key elsewhere: the backup is useless without it"
    )


@app.command("verify")
def verify(
    file: BackupFile, data_dir: DataDirOpt = None, output: OutputOpt = OutputFormat.TABLE
) -> None:
    """Decrypt the whole backup and check every digest, its audit chain and every secret;
    with the configured anchor file, that its chain is this installation's."""
    rt = open_runtime(data_dir)
    try:
        anchor_file = rt.settings.resolved_audit_anchor_file
        marks = audit.read_anchors(anchor_file) if anchor_file.exists() else []
        # the store's audit keys: the vault's master key and retired keys kept beside it
        report = bk.verify_backup(file, rt.vault, marks, keys=audit.keys_of(rt.store))
        good = report.audit_ok and not report.another_chain
        chain = report.audit_chain
        if good:
            # Posture (RF-IRR-003) reads this: when the newest backup proven good was made.
            audit.append_standalone(
                rt.store,
                actor="cli",
                action="backup.verified",
                entity_type="backup",
                entity_id=file.name,
                after={
                    "backup_created_at": report.header.get("created_at"),
                    "rows": report.rows,
                    "secrets_checked": report.secrets,
                },
                clock=rt.clock,
            )
    finally:
        rt.close()
    if output is OutputFormat.JSON:
        emit_json(
            {
                "ok": good,
                "file": str(file),
                "created_at": report.header.get("created_at"),
                "revisions": report.header.get("revisions"),
                "rows": report.rows,
                "audit_records": report.audit_records,
                "audit_chain_ok": report.audit_ok,
                "audit_keyed_from": chain.keyed_from if chain else None,
                # every keyed audit record's link was checked with its master key
                "audit_chain_complete": bool(chain and chain.complete),
                "audit_coverage": chain.coverage() if chain else [],
                "anchors_checked": len(marks),
                "anchor_problems": list(report.anchor_problems),
                "secrets_checked": report.secrets,
                "tables": report.tables,
            }
        )
    else:
        emit_table(_table_rows(report.tables), ["table", "rows", "sha256"], fmt=output)
        state = "intact" if report.audit_ok else "[bold red]BROKEN[/]"
        if report.audit_ok and chain is not None and not chain.complete:
            state = "[bold yellow]not fully verified[/]"
        console.print(
            f"backup of {report.header.get('created_at')}: {report.rows:,} rows, every digest "
            f"matches; audit chain {state} ({report.audit_records} records); "
            f"{report.secrets} secrets decrypt"
        )
        if chain is not None and chain.records and (chain.unchecked or chain.keyed_from != 1):
            for line in chain.coverage():
                err_console.print(f"[bold yellow]note:[/] {line}", highlight=False, soft_wrap=True)
        for problem in report.anchor_problems:
            # Older than the anchors is what a backup becomes as the store moves on (restore
            # will want --allow-rollback); another hash means it is not this chain at all.
            style = (
                "[bold red]not this installation's chain:[/]"
                if report.another_chain
                else ("[bold yellow]note:[/]")
            )
            err_console.print(f"{style} {problem}", highlight=False, soft_wrap=True)
            if report.another_chain:
                break
    if not good:
        raise typer.Exit(1)


@app.command("restore")
def restore(
    file: BackupFile,
    store_url: Annotated[
        str | None,
        typer.Option(
            "--store-url",
            help="Target store (default: the configured one). Must be new or empty; it may be "
            "another engine (SQLite ↔ PostgreSQL).",
        ),
    ] = None,
    anchors: Annotated[
        Path | None,
        typer.Option(
            "--anchors",
            help="Audit anchor file the backup must agree with (default: the configured "
            "anchor file, if present): a backup older than an anchor is refused.",
        ),
    ] = None,
    allow_rollback: Annotated[
        bool,
        typer.Option(
            "--allow-rollback",
            help="Restore even a backup the anchors show to be older (or of another chain).",
        ),
    ] = False,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Restore into an empty store, in one transaction, then prove the result."""
    from ringfence.store.db import Store
    from ringfence.store.vault import Vault

    settings = settings_for(data_dir)
    anchor_file = anchors or settings.resolved_audit_anchor_file
    marks = audit.read_anchors(anchor_file) if anchors or anchor_file.exists() else []
    if store_url is None and not settings.data_dir.exists():
        settings.data_dir.mkdir(parents=True, mode=0o700)  # the SQLite file goes here
    # owner only, as `init` makes it (created by the store, it would take the umask: 0644)
    private_sqlite_file(store_url or settings.resolved_store_url)
    target = Store(store_url or settings.resolved_store_url)
    vault = Vault(target, settings.resolved_master_key_file)
    try:
        bar, update = _progress(output is OutputFormat.TABLE)
        if bar is not None:
            with bar:
                report = bk.restore_backup(
                    file,
                    vault,
                    target,
                    progress=update,
                    anchors=marks,
                    allow_rollback=allow_rollback,
                    actor="cli",  # backup.restored is recorded in the restoring transaction
                )
        else:
            report = bk.restore_backup(
                file, vault, target, anchors=marks, allow_rollback=allow_rollback, actor="cli"
            )
        superseded = None
        if report.rolled_back and anchors is None and store_url is None and anchor_file.exists():
            # The configured store now holds the older chain on purpose: its anchors describe
            # a chain that is gone, and every `audit verify` / `backup create` would refuse it.
            # Keep them (the evidence of what was rolled back) beside a new anchor file that
            # starts at the restored head.
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            superseded = anchor_file.with_name(f"{anchor_file.name}.before-restore-{stamp}")
            os.replace(anchor_file, superseded)
            mark = audit.current_anchor(target)
            if mark is not None:
                audit.append_anchor(anchor_file, mark)
    finally:
        target.dispose()
    if output is OutputFormat.JSON:
        emit_json(
            {
                "restored": True,
                "backup_created_at": report.created_at,
                "rows": report.rows,
                "anchors_checked": report.anchors_checked,
                "rolled_back": list(report.rolled_back),
                "anchors_superseded": str(superseded) if superseded else None,
                "audit_records": report.audit_records,
                "secrets_checked": report.secrets,
                "tables": report.tables,
            }
        )
        return
    console.print(
        f"restored the backup of {report.created_at}: {report.rows:,} rows; audit chain "
        f"verified ({report.audit_records} records); {report.secrets} secrets decrypt with the "
        "loaded master key"
    )
    for problem in report.rolled_back:
        err_console.print(
            f"[bold yellow]rolled back:[/] {problem}"
            + (
                f"; the anchors of the replaced chain were moved to {superseded} and a new "
                "anchor file starts at the restored head"
                if superseded
                else "; start a new anchor file"
            ),
            highlight=False,
            soft_wrap=True,
        )
    if not report.anchors_checked:
        err_console.print(
            "[bold yellow]note:[/] no audit anchors were checked, so an older backup would "
            "not have been noticed: pass --anchors with the anchor file kept off this machine",
            highlight=False,
            soft_wrap=True,
        )
