"""The ``ringfence`` command: root Typer app and the registry of capability sub-commands.

Each capability adds its commands by one line in ``_SUBCOMMANDS`` (a Typer sub-app) or
``_COMMAND_MODULES`` (a module with ``register(app)`` adding top-level commands).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated

import typer

from ringfence.cli.common import DataDirOpt, OutputOpt, settings_for
from ringfence.cli.output import OutputFormat, console, emit_json, err_console
from ringfence.runtime import initialise

app = typer.Typer(
    name="ringfence",
    help="Ringfence — the integration security perimeter for your SaaS estate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# (command name, module exposing `app: typer.Typer`)
_SUBCOMMANDS: list[tuple[str, str]] = [
    ("vault", "ringfence.cli.vault"),
    ("token", "ringfence.cli.token"),
    ("audit", "ringfence.cli.audit"),
    ("backup", "ringfence.cli.backup"),
    ("respond", "ringfence.respond.cli"),
    ("vendors", "ringfence.vendors.cli"),
    ("gateway", "ringfence.gateway.cli"),
    ("inventory", "ringfence.cli.inventory"),
    ("classify", "ringfence.classify.cli"),
    ("connectors", "ringfence.connectors.cli"),
    ("users", "ringfence.identity.cli_users"),
    ("reviews", "ringfence.identity.cli_reviews"),
]
# modules exposing `register(app: typer.Typer) -> None` for top-level commands
_COMMAND_MODULES: list[str] = [
    "ringfence.cli.serve",
    "ringfence.cli.estate",
    "ringfence.classify.cli",
    "ringfence.monitor.cli",
    "ringfence.posture.cli",
]


@app.command("init")
def init(data_dir: DataDirOpt = None, output: OutputOpt = OutputFormat.TABLE) -> None:
    """Create the data directory, the master key (mode 0600) and the database schema."""
    report = initialise(settings_for(data_dir))
    if output is OutputFormat.JSON:
        emit_json(
            {
                "data_dir": str(report.data_dir),
                "created_data_dir": report.created_data_dir,
                "master_key_file": str(report.master_key_file) if report.master_key_file else None,
                "created_master_key": report.created_master_key,
                "store": report.store_url,
                "migrated": report.migrated,
                "data_dir_open_to_others": report.open_to_others,
            }
        )
        return
    say = "created" if report.created_data_dir else "using existing"
    console.print(f"{say} data directory {report.data_dir}")
    if report.open_to_others:
        err_console.print(
            f"[bold yellow]warning:[/] {report.data_dir} can be read or entered by other users; "
            f"it holds the store and perhaps the master key (chmod 700 {report.data_dir})",
            highlight=False,
            soft_wrap=True,
        )
    if report.master_key_file is None:
        console.print("master key from RINGFENCE_MASTER_KEY (no key file written)")
    elif report.created_master_key:
        console.print(f"created master key {report.master_key_file} (mode 0600) — back it up")
    else:
        console.print(f"kept existing master key {report.master_key_file}")
    state = "created/upgraded schema" if report.migrated else "schema already up to date"
    console.print(f"store {report.store_url}: {state}")


@app.command("version")
def version() -> None:
    """Print the Ringfence version."""
    from importlib.metadata import version as pkg_version

    console.print(pkg_version("ringfence"))


def _register() -> None:
    for name, module in _SUBCOMMANDS:
        sub = importlib.import_module(module).app
        app.add_typer(sub, name=name)
    for module in _COMMAND_MODULES:
        importlib.import_module(module).register(app)


_register()

__all__ = ["Annotated", "Path", "app"]
