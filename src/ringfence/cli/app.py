"""The ``ringfence`` command: root Typer app and the registry of capability sub-commands.

Each capability adds its commands by one line in ``_SUBCOMMANDS`` (a Typer sub-app) or
``_COMMAND_MODULES`` (a module with ``register(app)`` adding top-level commands, named in
that line so they can be found without importing it).

Capability modules are imported only when one of their commands runs (or for ``--help``,
which lists them all): importing every capability takes ~2 s, and ``ringfence scan`` in a
pre-commit hook or a CI step should not pay for the gateway, SCIM and the console.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from ringfence.cli.common import DataDirOpt, OutputOpt, settings_for
from ringfence.cli.output import OutputFormat, console, emit_json, err_console


class _LazyGroup(TyperGroup):
    """The root group: a capability's module is imported when one of its commands is looked
    up, not when ``ringfence`` starts. (Click types are left as Any: Typer >= 0.29 vendors
    its own copy of click, older ones use click itself.)"""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in _LAZY if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in _LAZY:
            self.add_command(_load(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)


app = typer.Typer(
    cls=_LazyGroup,
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
# (module exposing `register(app: typer.Typer) -> None`, the top-level names it registers);
# tests/cli/test_lazy_commands.py holds these names to what register() really adds
_COMMAND_MODULES: list[tuple[str, tuple[str, ...]]] = [
    ("ringfence.cli.serve", ("serve",)),
    ("ringfence.cli.estate", ("plan", "apply", "export")),
    ("ringfence.classify.cli", ("scan",)),
    ("ringfence.monitor.cli", ("ingest", "hunt", "monitor", "rules", "alerts")),
    ("ringfence.posture.cli", ("check", "discover", "adopt", "posture")),
]

# command name -> (module, True for a sub-app, False for a register() module)
_LAZY: dict[str, tuple[str, bool]] = {
    **{name: (module, True) for name, module in _SUBCOMMANDS},
    **{name: (module, False) for module, names in _COMMAND_MODULES for name in names},
}


def _load(name: str) -> Any:
    """Import the module behind ``name`` and build its click command as Typer would have."""
    module, is_sub_app = _LAZY[name]
    holder = typer.Typer(rich_markup_mode=app.rich_markup_mode)
    if is_sub_app:
        holder.add_typer(importlib.import_module(module).app, name=name)
    else:
        importlib.import_module(module).register(holder)
    command = typer.main.get_group(holder).commands.get(name)
    if command is None:  # the registry above names a command its module does not add
        raise RuntimeError(f"{module} does not register the command {name!r}")
    return command


@app.command("init")
def init(data_dir: DataDirOpt = None, output: OutputOpt = OutputFormat.TABLE) -> None:
    """Create the data directory, the master key (mode 0600) and the database schema."""
    from ringfence.runtime import initialise

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


__all__ = ["Annotated", "Path", "app"]
