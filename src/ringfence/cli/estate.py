"""``ringfence plan | apply | export``: the declarative estate from the command line.

Non-interactive by design (CI runs ``apply`` unattended): ``apply`` never prompts. Invalid
files print one ``file:line:column: problem`` line per problem and exit 1 with nothing
changed. Never prints a secret: the estate holds references only, and errors never echo values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.markup import escape
from rich.table import Table

from ringfence.cli.common import DataDirOpt, OutputOpt, open_runtime
from ringfence.cli.output import OutputFormat, console, emit_json, err_console
from ringfence.inventory.estate import (
    Estate,
    EstateInvalid,
    MissingSecrets,
    Plan,
    apply_estate,
    export_estate,
    load_estate,
    plan_estate,
)

FileOpt = Annotated[
    Path,
    typer.Option("--file", "-f", help="The ringfence.yaml to read.", dir_okay=False),
]


def _short(value: Any) -> str:
    if value is None:
        return "∅"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    return str(value)


def _report_invalid(exc: EstateInvalid, output: OutputFormat) -> NoReturn:
    if output is OutputFormat.JSON:
        emit_json({"valid": False, "errors": [p.to_dict() for p in exc.problems]})
    else:
        for problem in exc.problems:
            err_console.print(escape(str(problem)), highlight=False, soft_wrap=True)
        err_console.print(
            f"[bold red]error:[/] {escape(exc.problems[0].file)} is invalid: "
            f"{len(exc.problems)} problem(s); nothing was changed",
            highlight=False,
        )
    raise typer.Exit(1)


def _load(path: Path, output: OutputFormat) -> Estate:
    try:
        return load_estate(path)
    except EstateInvalid as exc:
        _report_invalid(exc, output)


def _print_warnings(plan: Plan, *, applied: bool) -> None:
    """One line per reference to a vault secret that does not exist (file:line:col, the
    item, the vault name, what stops working)."""
    for warning in plan.warnings:
        console.print(
            f"[yellow]warning:[/] {escape(str(warning))}", highlight=False, soft_wrap=True
        )
    if plan.warnings and not applied:
        refused = len(plan.introduced_gaps)
        console.print(
            f"[yellow]{len(plan.warnings)} missing vault secret(s)[/]"
            + (
                f"; `apply` refuses the {refused} this plan introduces unless the secrets are "
                "put first or --allow-missing-secrets is given"
                if refused
                else " (already referenced by the store: `apply` does not refuse them)"
            ),
            highlight=False,
        )


def _report_missing(exc: MissingSecrets, output: OutputFormat) -> NoReturn:
    if output is OutputFormat.JSON:
        emit_json({"applied": False, "errors": [p.to_dict() for p in exc.problems]})
    else:
        for problem in exc.problems:
            err_console.print(escape(str(problem)), highlight=False, soft_wrap=True)
        err_console.print(
            f"[bold red]error:[/] {escape(exc.problems[0].file)} references "
            f"{len(exc.problems)} vault secret(s) that do not exist; nothing was changed — "
            "put them first (`ringfence vault put NAME`), or pass --allow-missing-secrets to "
            "apply anyway (the routes using them answer 503 until then)",
            highlight=False,
        )
    raise typer.Exit(1)


def _print_plan(plan: Plan, *, applied: bool) -> None:
    if plan.is_empty:
        console.print(f"[green]No changes.[/] The store matches {escape(plan.source)}.")
    else:
        table = Table(title=f"{'Applied' if applied else 'Plan for'} {plan.source}")
        table.add_column("action")
        table.add_column("kind")
        table.add_column("name")
        table.add_column("changes")
        style = {"create": "green", "update": "yellow", "delete": "red"}
        sign = {"create": "+", "update": "~", "delete": "-"}
        for change in plan.changes:
            if change.action == "update":
                detail = "\n".join(
                    f"{f.field}: {_short(f.before)} → {_short(f.after)}" for f in change.fields
                )
            elif change.action == "create":
                detail = ""
            else:
                detail = "not in the file"
            table.add_row(
                f"[{style[change.action]}]{sign[change.action]} {change.action}[/]",
                change.entity_type,
                escape(change.name),
                escape(detail),
            )
        console.print(table)
    c = plan.counts()
    if applied:
        console.print(
            f"Applied: {c['create']} created, {c['update']} updated, {c['delete']} deleted."
        )
    else:
        console.print(
            f"Plan: {c['create']} to create, {c['update']} to update, {c['delete']} to delete."
        )
    if plan.unmanaged:
        console.print(
            f"[dim]Not managed by this file (left as they are): {', '.join(plan.unmanaged)}[/]"
        )
    _print_warnings(plan, applied=applied)


def register(app: typer.Typer) -> None:
    @app.command("plan")
    def plan(
        file: FileOpt,
        detailed_exitcode: Annotated[
            bool,
            typer.Option(
                "--detailed-exitcode", help="Exit 2 when there are changes (0 when none)."
            ),
        ] = False,
        data_dir: DataDirOpt = None,
        output: OutputOpt = OutputFormat.TABLE,
    ) -> None:
        """Show what `apply` would create, update and delete; change nothing."""
        estate = _load(file, output)
        rt = open_runtime(data_dir)
        try:
            with rt.store.session() as session:
                try:
                    result = plan_estate(session, estate)
                except EstateInvalid as exc:
                    _report_invalid(exc, output)
                session.rollback()
        finally:
            rt.close()
        if output is OutputFormat.JSON:
            emit_json(result.to_dict())
        else:
            _print_plan(result, applied=False)
        if detailed_exitcode and not result.is_empty:
            raise typer.Exit(2)

    @app.command("apply")
    def apply(
        file: FileOpt,
        actor: Annotated[
            str, typer.Option("--actor", help="Who the audit log records as the author.")
        ] = "cli",
        allow_missing_secrets: Annotated[
            bool,
            typer.Option(
                "--allow-missing-secrets",
                help="Apply even if the file newly references vault secrets that do not exist "
                "(the routes using them answer 503 until they are put).",
            ),
        ] = False,
        data_dir: DataDirOpt = None,
        output: OutputOpt = OutputFormat.TABLE,
    ) -> None:
        """Reconcile the store with the file in one transaction (never prompts; safe to repeat).

        Entries missing from a section the file declares are deleted; sections the file does
        not mention are left alone; observed data flows are never deleted. A file that
        creates or changes a reference to a vault secret that does not exist is refused
        unless --allow-missing-secrets is given (each is then a warning line)."""
        if not actor.strip() or len(actor) > 200:
            raise typer.BadParameter("must be 1-200 characters", param_hint="--actor")
        estate = _load(file, output)
        rt = open_runtime(data_dir)
        try:
            try:
                result = apply_estate(
                    rt.store,
                    estate,
                    actor=actor,
                    clock=rt.clock,
                    allow_missing_secrets=allow_missing_secrets,
                )
            except MissingSecrets as exc:
                _report_missing(exc, output)
            except EstateInvalid as exc:
                _report_invalid(exc, output)
        finally:
            rt.close()
        if output is OutputFormat.JSON:
            emit_json({"applied": True, **result.to_dict()})
        else:
            _print_plan(result, applied=True)

    @app.command("export")
    def export(
        out: Annotated[
            Path | None,
            typer.Option(
                "--out", "-o", help="Write to this file (default: stdout).", dir_okay=False
            ),
        ] = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Write the store back as ringfence.yaml (references only, never secrets)."""
        rt = open_runtime(data_dir)
        try:
            text = export_estate(rt.store)
        finally:
            rt.close()
        if out is None:
            typer.echo(text, nl=False)
        else:
            out.write_text(text, encoding="utf-8")
            err_console.print(f"wrote {escape(str(out))}")
