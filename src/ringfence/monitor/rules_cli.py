"""``ringfence rules`` (validate, test, list Sigma rules) and ``ringfence alerts`` (list, ack,
close). ``rules test`` exits non-zero when a rule does not parse, uses an unsupported
construct, or one of its embedded cases fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ringfence.cli.common import DataDirOpt, OutputOpt, open_runtime
from ringfence.cli.output import OutputFormat, console, emit_json, emit_table
from ringfence.core.errors import ValidationError

rules_app = typer.Typer(help="Sigma rules: validate, test, list.", no_args_is_help=True)
alerts_app = typer.Typer(help="Alerts (OCSF Detection Findings).", no_args_is_help=True)


@rules_app.command("test")
def test_rules(
    files: Annotated[list[Path], typer.Argument(help="Rule files or directories.")],
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Validate rules and run their embedded test cases (x_tests)."""
    from ringfence.monitor.sigma.engine import BUNDLED_RULES, RuleSet
    from ringfence.monitor.sigma.testing import run_rule_tests

    for f in files:
        if not f.exists():
            raise ValidationError(f"no such rule file or directory: {f}")
    # Load the bundled rules too so correlations may reference them; report only FILES.
    targets = {str(p) for f in files for p in ([f] if f.is_file() else _yaml_files(f))}
    bundled = [] if any(_inside(f, BUNDLED_RULES) for f in files) else [BUNDLED_RULES]
    rs = RuleSet.load([*files, *bundled])
    reports = [run_rule_tests(rs, only_origin=t) for t in sorted(targets)]
    results = [r for rep in reports for r in rep.results]
    problems = [p for rep in reports for p in rep.problems]
    untested = [u for rep in reports for u in rep.untested]
    ok = not problems and all(r.ok for r in results)
    if output is OutputFormat.JSON:
        emit_json(
            {
                "ok": ok,
                "problems": problems,
                "untested": untested,
                "cases": [
                    {
                        "rule": r.rule,
                        "case": r.case,
                        "expected": r.expected,
                        "actual": r.actual,
                        "ok": r.ok,
                        "error": r.error,
                    }
                    for r in results
                ],
            }
        )
    else:
        for p in problems:
            console.print(f"[red]problem[/]: {p}")
        for r in results:
            mark = "[green]pass[/]" if r.ok else "[red]FAIL[/]"
            want = "match" if r.expected else "no match"
            extra = f" — {r.error}" if r.error else ""
            console.print(f"{mark} {r.rule} / {r.case} (expects {want}){extra}")
        for u in untested:
            console.print(f"[yellow]untested[/]: {u}")
        n_ok = sum(r.ok for r in results)
        console.print(f"{n_ok}/{len(results)} cases passed, {len(problems)} problems")
    if not ok:
        raise typer.Exit(1)


def _yaml_files(d: Path) -> list[Path]:
    return sorted([*d.rglob("*.yml"), *d.rglob("*.yaml")])


def _inside(path: Path, parent: Path) -> bool:
    try:
        path.resolve().relative_to(parent.resolve())
    except ValueError:
        return False
    return True


@rules_app.command("list")
def list_rules(data_dir: DataDirOpt = None, output: OutputOpt = OutputFormat.TABLE) -> None:
    """The rules the monitor runs (bundled + configured), with problems."""
    from ringfence.cli.common import settings_for
    from ringfence.monitor.wiring import load_config, load_rules

    cfg = load_config(settings_for(data_dir).data_dir)
    rs = load_rules(cfg)
    rows = [
        {
            "key": r.key,
            "title": r.title,
            "level": r.level,
            "logsource": f"{r.product or '*'}/{r.service or '*'}",
            "kind": "rule",
            "cases": len(r.tests),
        }
        for r in rs.rules
    ] + [
        {
            "key": c.key,
            "title": c.title,
            "level": c.level,
            "logsource": "-",
            "kind": f"correlation:{c.kind}",
            "cases": len(c.tests),
        }
        for c in rs.correlations
    ]
    if output is OutputFormat.JSON:
        emit_json({"rules": rows, "problems": [vars(p) for p in rs.problems]})
        return
    emit_table(
        rows, ["key", "title", "level", "logsource", "kind", "cases"], title=f"{len(rows)} rules"
    )
    for p in rs.problems:
        console.print(f"[red]problem[/]: {p.origin}: {p.rule}: {p.message}")


@alerts_app.command("list")
def list_alerts(
    status: Annotated[str | None, typer.Option(help="new | acknowledged | closed")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Alerts, most recent first."""
    from ringfence.monitor.alerts import AlertStore

    rt = open_runtime(data_dir)
    try:
        alerts = AlertStore(rt.store, rt.clock).list(status, limit)
    finally:
        rt.close()
    if output is OutputFormat.JSON:
        emit_json([a.finding | {"id": a.id, "alert_status": a.status} for a in alerts])
        return
    emit_table(
        [
            {
                "id": a.id,
                "last_seen": a.last_seen,
                "severity": a.severity,
                "status": a.status,
                "count": a.count,
                "title": a.title,
                "message": a.finding.get("message"),
            }
            for a in alerts
        ],
        ["id", "last_seen", "severity", "status", "count", "title", "message"],
    )


def _set_status(alert_id: str, status: str, data_dir: Path | None, output: OutputFormat) -> None:
    from ringfence.monitor.alerts import AlertStore

    rt = open_runtime(data_dir)
    try:
        a = AlertStore(rt.store, rt.clock).set_status(alert_id, status, actor="cli")
    finally:
        rt.close()
    if output is OutputFormat.JSON:
        emit_json({"id": a.id, "status": a.status})
    else:
        console.print(f"alert {a.id} {a.status}")


@alerts_app.command("ack")
def ack(alert_id: str, data_dir: DataDirOpt = None, output: OutputOpt = OutputFormat.TABLE) -> None:
    """Acknowledge an alert (it keeps absorbing duplicates)."""
    _set_status(alert_id, "acknowledged", data_dir, output)


@alerts_app.command("close")
def close(
    alert_id: str, data_dir: DataDirOpt = None, output: OutputOpt = OutputFormat.TABLE
) -> None:
    """Close an alert; the next matching finding opens a new one."""
    _set_status(alert_id, "closed", data_dir, output)
