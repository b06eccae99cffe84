"""``ringfence vault``: put a secret, show its metadata, rotate the master key; never prints one."""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import Annotated

import typer

from ringfence.cli.common import DataDirOpt, OutputOpt, open_runtime
from ringfence.cli.output import OutputFormat, console, emit_json, emit_table, err_console, fail

app = typer.Typer(help="Encrypted secrets (AES-256-GCM envelope encryption).", no_args_is_help=True)


@app.command("put")
def put(
    name: Annotated[str, typer.Argument(help="Secret name, e.g. salesforce/client-secret.")],
    from_env: Annotated[
        str | None, typer.Option("--from-env", help="Read the value from this env variable.")
    ] = None,
    stdin: Annotated[bool, typer.Option("--stdin", help="Read the value from stdin.")] = False,
    description: Annotated[str, typer.Option("--description", "-d")] = "",
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Store a secret. The value comes from stdin, an env variable, or a hidden prompt —
    never from the command line, where it would land in shell history."""
    import os

    if from_env:
        value = os.environ.get(from_env)
        if value is None:
            fail(f"environment variable {from_env} is not set")
    elif stdin or not sys.stdin.isatty():
        value = sys.stdin.read().rstrip("\n")
    else:
        value = typer.prompt("secret value", hide_input=True, confirmation_prompt=True)
    assert value is not None
    rt = open_runtime(data_dir)
    try:
        # The vault appends the audit record in the transaction that stores the secret.
        meta = rt.vault.put(name, value, description=description, actor="cli")
    finally:
        rt.close()
    if output is OutputFormat.JSON:
        emit_json(asdict(meta))
    else:
        console.print(f"stored [bold]{name}[/] (version {meta.version}, key {meta.master_key_id})")


@app.command("get-metadata")
def get_metadata(
    name: str, data_dir: DataDirOpt = None, output: OutputOpt = OutputFormat.TABLE
) -> None:
    """Show a secret's metadata (version, key id, dates) — never its value."""
    rt = open_runtime(data_dir)
    try:
        meta = asdict(rt.vault.metadata(name))
    finally:
        rt.close()
    emit_table([meta], list(meta), title=f"secret {name}", fmt=output)


@app.command("list")
def list_secrets(data_dir: DataDirOpt = None, output: OutputOpt = OutputFormat.TABLE) -> None:
    """List secret names and metadata."""
    rt = open_runtime(data_dir)
    try:
        rows = [asdict(m) for m in rt.vault.list()]
    finally:
        rt.close()
    emit_table(rows, ["name", "version", "master_key_id", "updated_at"], title="vault", fmt=output)


@app.command("rotate-master")
def rotate_master(data_dir: DataDirOpt = None, output: OutputOpt = OutputFormat.TABLE) -> None:
    """Generate a new master key and re-wrap every data key with it, in one transaction."""
    rt = open_runtime(data_dir)
    try:
        old = rt.vault.master_key_id
        count = rt.vault.rotate_master(actor="cli")  # audited in the re-wrapping transaction
        new = rt.vault.master_key_id
        retired = rt.vault.retired_key_file
    finally:
        rt.close()
    if output is OutputFormat.JSON:
        emit_json(
            {
                "old_key_id": old,
                "new_key_id": new,
                "rewrapped": count,
                "old_key_file": str(retired) if retired else None,
            }
        )
    else:
        console.print(f"master key rotated {old} → {new}; re-wrapped {count} data keys")
    # Backups made before now are sealed with the old key: say where it is (key file) or that
    # the old variable's value is still needed (RINGFENCE_MASTER_KEY).
    where = f"it is kept at {retired}" if retired else "keep the old RINGFENCE_MASTER_KEY value"
    err_console.print(
        f"[bold yellow]note:[/] backups made before this rotation open only with the old key "
        f"{old}: {where} — store it offline with those backups, and delete it once they expire",
        highlight=False,
        soft_wrap=True,
    )
