"""``ringfence check | discover | adopt`` and ``ringfence posture ...`` (findings lifecycle,
least-privilege recommendations, the checks catalogue).

``check`` exits 1 when an open (not risk-accepted) finding is at or above ``--fail-on``, so CI
can gate on it. Bad input is one clear error line, never a traceback; output never contains a
secret (checks see references only).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from ringfence.cli.common import DataDirOpt, OutputOpt, open_runtime
from ringfence.cli.output import OutputFormat, console, emit_json, emit_table, err_console
from ringfence.core.errors import RingfenceError, ValidationError
from ringfence.posture import lifecycle
from ringfence.posture.catalogue import Severity, all_checks
from ringfence.posture.discovery import KINDS, adopt, find_shadow
from ringfence.posture.engine import PostureReport, run_checks
from ringfence.posture.loader import load_context
from ringfence.posture.recommend import apply_recommendations, as_yaml_patch, recommend
from ringfence.posture.reports import RENDERERS
from ringfence.runtime import Runtime


class ReportFormat(enum.StrEnum):
    TABLE = "table"
    JSON = "json"
    SARIF = "sarif"
    JUNIT = "junit"
    MARKDOWN = "markdown"
    CSV = "csv"


class FailOn(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"
    NEVER = "never"


posture_app = typer.Typer(
    help="Posture findings, risk acceptance, least privilege, catalogue.", no_args_is_help=True
)


# Exit status of `discover --connectors` / `connectors pull` when a vendor's pull had errors:
# the partial results were printed and stored, but a script must not take them as complete.
PARTIAL_PULL_EXIT = 3


def _exit_if_partial(rows: list[dict[str, object]]) -> None:
    failed = [str(r["vendor"]) for r in rows if r.get("errors")]
    if failed:
        err_console.print(
            f"[bold red]incomplete pull:[/] {', '.join(failed)} (exit {PARTIAL_PULL_EXIT})",
            highlight=False,
        )
        raise typer.Exit(PARTIAL_PULL_EXIT)


def _pull(rt: Runtime, connectors: Path) -> list[dict[str, object]]:
    """Pull every configured connector into the store; partial results are kept."""
    from ringfence.connectors import build_connector, load_connector_configs
    from ringfence.posture.observations import store_snapshot

    rows: list[dict[str, object]] = []
    for cfg in load_connector_configs(connectors):
        try:
            with build_connector(cfg, secrets=rt.vault, clock=rt.clock) as conn:
                snap = conn.snapshot()
        except RingfenceError as exc:
            # One vendor that cannot be reached at all (an unset credential variable, a vault
            # reference that does not resolve) is that vendor's error; the others are pulled.
            rows.append(
                {"vendor": cfg.vendor, "people": 0, "apps": 0, "grants": 0, "errors": exc.message}
            )
            err_console.print(
                f"[yellow]warning:[/] {cfg.vendor}: not pulled: {exc.message}", highlight=False
            )
            continue
        with rt.store.session() as s:
            counts = store_snapshot(s, snap, rt.clock.now())
        errors = "; ".join(str(e) for e in snap.errors)
        rows.append({"vendor": cfg.vendor, **counts, "errors": errors})
        if errors:
            err_console.print(
                f"[yellow]warning:[/] {cfg.vendor}: partial pull: {errors}", highlight=False
            )
    return rows


def register(app: typer.Typer) -> None:
    @app.command("check")
    def check(
        fail_on: Annotated[
            FailOn,
            typer.Option("--fail-on", help="Exit 1 on an open finding at or above this severity."),
        ] = FailOn.HIGH,
        fmt: Annotated[ReportFormat, typer.Option("--format", "-f")] = ReportFormat.TABLE,
        out: Annotated[
            Path | None, typer.Option("--output-file", "-o", help="Write the report here.")
        ] = None,
        only: Annotated[list[str] | None, typer.Option("--only", help="Check id(s).")] = None,
        estate: Annotated[
            Path | None, typer.Option("--estate", help="Estate file the SARIF results point at.")
        ] = None,
        record: Annotated[bool, typer.Option(help="Record findings (lifecycle).")] = True,
        connectors: Annotated[
            Path | None,
            typer.Option(
                "--connectors",
                help="connectors.yaml whose connector tokens (vault:NAME) the rotation checks "
                "age (default: RINGFENCE_CONNECTORS_FILE).",
            ),
        ] = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Run the posture checks; exit 1 on open findings at or above --fail-on."""
        rt = open_runtime(data_dir)
        try:
            with rt.store.session() as s:
                ctx = load_context(
                    s,
                    rt.clock.now(),
                    data_dir=rt.settings.data_dir,
                    connectors_file=connectors or rt.settings.connectors_file,
                )
            try:
                report = run_checks(ctx, only=only)
            except KeyError as exc:
                raise ValidationError(str(exc.args[0])) from None
            accepted: set[tuple[str, str, str]] = set()
            if record:
                accepted = _record(rt, report)
        finally:
            rt.close()
        _emit(report, fmt, out, accepted, estate)
        for r in report.results:
            if r.status == "error":
                err_console.print(
                    f"[yellow]warning:[/] check {r.meta.id} failed to run: {r.reason}",
                    highlight=False,
                )
        if fail_on is not FailOn.NEVER:
            threshold = Severity.parse(fail_on.value)
            blocking = [
                f
                for f in report.at_or_above(threshold)
                if (f.meta.id, f.failure.resource_type, f.failure.resource_id) not in accepted
            ]
            if blocking:
                err_console.print(
                    f"[bold red]{len(blocking)} open finding(s) at or above {fail_on.value}[/]",
                    highlight=False,
                )
                raise typer.Exit(1)

    @app.command("discover")
    def discover(
        connectors: Annotated[
            Path | None,
            typer.Option(
                "--connectors", "-c", help="connectors.yaml: pull these SaaS tenants first."
            ),
        ] = None,
        data_dir: DataDirOpt = None,
        output: OutputOpt = OutputFormat.TABLE,
    ) -> None:
        """Pull the SaaS connectors (optional) and list shadow IT: observed, not declared.

        Exits 3 when a connector's pull had errors (what was pulled is still stored and shown).
        """
        rt = open_runtime(data_dir)
        try:
            pulled = _pull(rt, connectors) if connectors else []
            with rt.store.session() as s:
                ctx = load_context(s, rt.clock.now(), data_dir=rt.settings.data_dir)
        finally:
            rt.close()
        items = find_shadow(ctx)
        if output is OutputFormat.JSON:
            emit_json({"pulled": pulled, "shadow_it": [i.to_dict() for i in items]})
            _exit_if_partial(pulled)
            return
        if pulled:
            emit_table(
                pulled, ["vendor", "people", "apps", "grants", "errors"], title="connectors pulled"
            )
        if ctx.saas is None and not items:
            console.print("no SaaS observations yet: run `ringfence discover --connectors FILE`")
            _exit_if_partial(pulled)
            return
        emit_table(
            [{**i.to_dict(), "scopes": ", ".join(i.risky_scopes or i.scopes)} for i in items],
            ["risk", "kind", "name", "vendor", "detail", "scopes"],
            title=f"shadow IT: {len(items)} undeclared item(s)",
        )
        _exit_if_partial(pulled)

    @app.command("adopt")
    def adopt_cmd(
        kind: Annotated[str, typer.Argument(help="app | integration")],
        name: Annotated[str, typer.Argument(help="Name as listed by `ringfence discover`.")],
        file: Annotated[Path, typer.Option("--file", "-f", help="The estate file to edit.")] = Path(
            "ringfence.yaml"
        ),
        data_dir: DataDirOpt = None,
        output: OutputOpt = OutputFormat.TABLE,
    ) -> None:
        """Declare a discovered app or integration in ringfence.yaml (comments preserved)."""
        if kind not in KINDS:
            raise ValidationError(f"unknown kind {kind!r}; expected one of: {', '.join(KINDS)}")
        rt = open_runtime(data_dir)
        try:
            with rt.store.session() as s:
                ctx = load_context(s, rt.clock.now(), data_dir=rt.settings.data_dir)
        finally:
            rt.close()
        added = adopt(file, kind, name, find_shadow(ctx))
        if output is OutputFormat.JSON:
            emit_json({"file": str(file), "added": added})
            return
        for what, value in added.items():
            console.print(f"declared {what} [bold]{escape(value)}[/] in {escape(str(file))}")
        console.print(f"review it, then `ringfence plan -f {file}` and `ringfence apply -f {file}`")

    app.add_typer(posture_app, name="posture")


def _record(rt: Runtime, report: PostureReport) -> set[tuple[str, str, str]]:
    """Sync findings; a concurrent run inserting the same new finding first is retried."""
    for attempt in range(3):
        try:
            with rt.store.session() as s:
                return lifecycle.sync_findings(s, report).accepted
        except SAIntegrityError:
            if attempt == 2:
                raise
    return set()


def _emit(
    report: PostureReport,
    fmt: ReportFormat,
    out: Path | None,
    accepted: set[tuple[str, str, str]],
    estate: Path | None,
) -> None:
    if fmt is ReportFormat.TABLE:
        if out is not None:
            raise ValidationError(
                "--output-file needs a file format (json, sarif, junit, markdown, csv)"
            )
        rows = [
            {
                "severity": f.severity.label,
                "check": f.meta.id,
                "resource": f"{f.failure.resource_type}/{f.failure.resource_id}",
                "finding": f.failure.message,
                "status": "risk_accepted"
                if (f.meta.id, f.failure.resource_type, f.failure.resource_id) in accepted
                else "open",
            }
            for f in report.findings
        ]
        emit_table(
            rows, ["severity", "check", "resource", "finding", "status"], title="posture findings"
        )
        c = report.counts()
        console.print(
            f"score {report.score()}/100 · {c['checks']} checks: {c['passed']} passed, "
            f"{c['failed']} failed, {c['skipped']} skipped · {c['findings']} findings"
        )
        return
    renderer = RENDERERS[fmt.value]
    text = (
        renderer(report, accepted, str(estate))
        if fmt is ReportFormat.SARIF and estate
        else renderer(report, accepted)
    )
    if out is None:
        typer.echo(text, nl=False)
    else:
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ValidationError(f"cannot write {out}: {exc.strerror}") from None
        console.print(f"wrote {fmt.value} report to {out}")


@posture_app.command("findings")
def findings(
    status: Annotated[str | None, typer.Option(help="open | risk_accepted | resolved")] = None,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """List recorded findings and their lifecycle state."""
    if status is not None and status not in {"open", "risk_accepted", "resolved"}:
        raise ValidationError("--status must be open, risk_accepted or resolved")
    rt = open_runtime(data_dir)
    try:
        with rt.store.session() as s:
            rows = [
                {
                    "id": r.id,
                    "severity": r.severity,
                    "check": r.check_id,
                    "resource": f"{r.resource_type}/{r.resource_id}",
                    "status": r.status,
                    "first_seen": r.first_seen,
                    "last_seen": r.last_seen,
                    "accepted_until": r.accepted_until,
                    "message": r.message,
                }
                for r in lifecycle.list_findings(s, status)
            ]
    finally:
        rt.close()
    emit_table(
        rows,
        ["id", "severity", "check", "resource", "status", "last_seen", "accepted_until"],
        fmt=output,
    )


@posture_app.command("accept")
def accept(
    finding_id: Annotated[str, typer.Argument()],
    justification: Annotated[str, typer.Option("--justification", "-j")],
    approver: Annotated[str, typer.Option("--approver")],
    until: Annotated[str, typer.Option("--until", help="YYYY-MM-DD (at most 365 days)")],
    by: Annotated[str, typer.Option("--by", help="Who requests the acceptance.")] = "cli",
    data_dir: DataDirOpt = None,
) -> None:
    """Accept the risk of a finding until a date (justification + a second-person approver)."""
    try:
        day = datetime.strptime(until, "%Y-%m-%d").date()
    except ValueError:
        raise ValidationError(f"--until {until!r} is not a date YYYY-MM-DD") from None
    rt = open_runtime(data_dir)
    try:
        with rt.store.session() as s:
            row = lifecycle.accept_risk(
                s,
                finding_id,
                justification=justification,
                approver=approver,
                accepted_by=by,
                until=datetime.combine(day, time(23, 59, 59), UTC),
                now=rt.clock.now(),
            )
            console.print(f"finding {row.id} risk-accepted until {day.isoformat()}")
    finally:
        rt.close()


@posture_app.command("history")
def history(
    finding_id: Annotated[str, typer.Argument()],
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Show every status change of one finding."""
    rt = open_runtime(data_dir)
    try:
        with rt.store.session() as s:
            rows = [
                {
                    "ts": e.ts,
                    "from": e.from_status,
                    "to": e.to_status,
                    "actor": e.actor,
                    "note": e.note,
                }
                for e in lifecycle.history(s, finding_id)
            ]
    finally:
        rt.close()
    emit_table(rows, ["ts", "from", "to", "actor", "note"], fmt=output)


@posture_app.command("recommend")
def recommend_cmd(
    apply: Annotated[
        Path | None, typer.Option("--apply", help="Rewrite scopes in this estate file.")
    ] = None,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Minimal scope set per integration from observed gateway traffic."""
    rt = open_runtime(data_dir)
    try:
        with rt.store.session() as s:
            ctx = load_context(s, rt.clock.now(), data_dir=rt.settings.data_dir)
    finally:
        rt.close()
    if ctx.usage is None:
        console.print("no gateway usage observed yet: nothing to recommend")
        return
    recs = recommend(ctx)
    if output is OutputFormat.JSON:
        emit_json(
            [
                {
                    "integration": r.integration,
                    "current": r.current,
                    "minimal": r.minimal,
                    "remove": r.remove,
                }
                for r in recs
            ]
        )
    elif recs:
        typer.echo(as_yaml_patch(recs), nl=False)
    else:
        console.print("every integration uses all its scopes")
    if apply is not None and recs:
        changed = apply_recommendations(apply, recs)
        console.print(f"narrowed scopes of {len(changed)} integration(s) in {apply}")


@posture_app.command("score")
def score(
    worst: Annotated[int, typer.Option(min=1, max=1000, help="How many resources to list.")] = 10,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Posture score of the organisation and the lowest-scoring apps and integrations."""
    rt = open_runtime(data_dir)
    try:
        with rt.store.session() as s:
            ctx = load_context(
                s,
                rt.clock.now(),
                data_dir=rt.settings.data_dir,
                connectors_file=rt.settings.connectors_file,
            )
        report = run_checks(ctx)
    finally:
        rt.close()
    rows = [
        {"kind": kind, "name": name, "score": value}
        for kind in ("app", "integration")
        for name, value in sorted(report.resource_scores(kind).items(), key=lambda kv: kv[1])[
            :worst
        ]
    ]
    if output is OutputFormat.JSON:
        emit_json({"organisation": report.score(), "lowest": rows})
        return
    console.print(f"organisation score: [bold]{report.score()}[/] / 100")
    emit_table(rows, ["kind", "name", "score"], title="lowest scores")


@posture_app.command("catalogue")
def catalogue(output: OutputOpt = OutputFormat.TABLE) -> None:
    """List every check with its severity and framework mappings."""
    rows = [
        {
            "id": c.meta.id,
            "severity": c.meta.severity.label,
            "area": c.meta.area,
            "title": c.meta.title,
            "requires": list(c.meta.requires),
        }
        for c in all_checks()
    ]
    emit_table(rows, ["id", "severity", "area", "title", "requires"], fmt=output)


__all__ = ["posture_app", "register"]
