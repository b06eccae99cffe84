"""``ringfence inventory list|show``: read the inventory as tables or JSON.

Read-only; never shows a secret (credentials carry their vault/env reference only).
"""

from __future__ import annotations

from typing import Annotated

import typer

from ringfence.cli.common import DataDirOpt, OutputOpt, open_runtime
from ringfence.cli.output import OutputFormat, emit_json, emit_table
from ringfence.inventory.views import COLUMNS, Filters, Kind, list_rows, show, summarise

app = typer.Typer(
    help="Inventory: apps, vendors, integrations, credentials, flows, people.", no_args_is_help=True
)

KindArg = Annotated[Kind, typer.Argument(help="What to list.", case_sensitive=False)]


@app.command("list")
def list_command(
    kind: KindArg,
    status: Annotated[
        str | None,
        typer.Option(
            help="apps: sanctioned|unsanctioned; integrations: active|quarantined|revoked; "
            "people: active|inactive."
        ),
    ] = None,
    vendor: Annotated[str | None, typer.Option(help="apps/integrations of this vendor.")] = None,
    owner: Annotated[str | None, typer.Option(help="Owned by this e-mail.")] = None,
    kind_filter: Annotated[
        str | None,
        typer.Option("--kind", help="integration kind or credential kind."),
    ] = None,
    category: Annotated[str | None, typer.Option(help="apps of this category.")] = None,
    app_name: Annotated[
        str | None, typer.Option("--app", help="integrations/flows touching this app.")
    ] = None,
    origin: Annotated[str | None, typer.Option(help="flows: declared|observed.")] = None,
    integration: Annotated[
        str | None, typer.Option(help="credentials/flows of this integration.")
    ] = None,
    data_class: Annotated[
        str | None, typer.Option("--data-class", help="carrying this data class.")
    ] = None,
    department: Annotated[str | None, typer.Option(help="people of this department.")] = None,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """List apps, vendors, integrations, credentials, flows or people, with filters."""
    filters = Filters(
        status=status,
        vendor=vendor,
        owner=owner,
        kind=kind_filter,
        category=category,
        app=app_name,
        origin=origin,
        integration=integration,
        data_class=data_class,
        department=department,
    )
    rt = open_runtime(data_dir)
    try:
        with rt.store.session() as session:
            rows = list_rows(session, kind, filters)
    finally:
        rt.close()
    emit_table(rows, COLUMNS[kind], title=f"{kind.value} ({len(rows)})", fmt=output)


@app.command("show")
def show_command(
    kind: KindArg,
    name: Annotated[str, typer.Argument(help="Name (e-mail for people).")],
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Show one entry in full, with what hangs off it."""
    rt = open_runtime(data_dir)
    try:
        with rt.store.session() as session:
            row = show(session, kind, name)
    finally:
        rt.close()
    if output is OutputFormat.JSON:
        emit_json(row)
        return
    flat = {
        key: [_describe(v) for v in value] if isinstance(value, list) else value
        for key, value in row.items()
    }
    emit_table([flat], list(flat), title=f"{kind.value.removesuffix('s')} {name}", fmt=output)


def _describe(value: object) -> object:
    """A nested entry (an integration's credential) as one readable cell fragment."""
    if isinstance(value, dict):
        rest = ", ".join(str(v) for k, v in value.items() if k != "name")
        return f"{value.get('name')} ({rest})" if rest else str(value.get("name"))
    return value


@app.command("summary")
def summary_command(data_dir: DataDirOpt = None, output: OutputOpt = OutputFormat.TABLE) -> None:
    """Counts per kind: apps (unsanctioned), integrations (per status), flows (per class)..."""
    rt = open_runtime(data_dir)
    try:
        with rt.store.session() as session:
            rows = summarise(session)
    finally:
        rt.close()
    emit_table(rows, ["kind", "count", "detail"], title="estate", fmt=output)
