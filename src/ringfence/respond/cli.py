"""``ringfence respond``: run playbooks, approve steps, close incidents, drills, evidence."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from sqlalchemy import select

from ringfence.cli.common import DataDirOpt, OutputOpt, open_runtime
from ringfence.cli.output import OutputFormat, console, emit_json, emit_table
from ringfence.core.errors import ValidationError
from ringfence.respond.engine import Responder
from ringfence.respond.models import Playbook
from ringfence.respond.wiring import responder_for
from ringfence.runtime import Runtime

app = typer.Typer(
    help="Incident response: playbooks, incidents, approvals, drills, evidence.",
    no_args_is_help=True,
)

# An incident's states (``--status``), and a bound on step numbers (a playbook has at most 30
# steps; a number past a 64-bit integer was an internal OverflowError in the store).
STATUSES = ("open", "awaiting_approval", "contained", "needs_attention", "closed")
MAX_STEP = 1000

ByOpt = Annotated[str, typer.Option("--by", help="Who does this (recorded in the timeline).")]
ConnectorsOpt = Annotated[
    Path | None,
    typer.Option("--connectors", help="connectors.yaml, for revoke_oauth_grants steps."),
]


def _responder(rt: Runtime, connectors: Path | None) -> Responder:
    return responder_for(rt, connectors)


def _run_and_show(
    data_dir: Path | None,
    connectors: Path | None,
    output: OutputFormat,
    act: Callable[[Responder], str],
) -> dict[str, Any]:
    """Open the runtime, do ``act`` (which returns the incident id), print the incident."""
    rt = open_runtime(data_dir)
    try:
        r = _responder(rt, connectors)
        view = r.show(act(r))
    finally:
        rt.close()
    _print_incident(view, output)
    return view


def _actor(by: str) -> str:
    if not by.strip() or len(by) > 200:
        raise ValidationError("--by must be 1-200 characters")
    return _text("--by", by).strip()


def _text(option: str, value: str) -> str:
    """``value`` if it holds no control character but tab and newline: a NUL is refused by
    PostgreSQL (an internal error), and the timeline, the audit log and terminals show the
    rest as they are (the API refuses NULs the same way)."""
    bad = next((c for c in value if unicodedata.category(c) == "Cc" and c not in "\t\n"), None)
    if bad is not None:
        raise ValidationError(f"{option} holds a control character (U+{ord(bad):04X})")
    return value


def _print_incident(view: dict[str, Any], output: OutputFormat) -> None:
    if output is OutputFormat.JSON:
        emit_json(view)
        return
    kind = "drill" if view["drill"] else "incident"
    console.print(
        f"{kind} {view['id']} — {view['playbook']} on {view['integration']}: "
        f"[bold]{view['status']}[/]"
        + (
            f", contained {view['seconds_to_contain']:.1f} s after detection"
            if view.get("seconds_to_contain") is not None
            else ""
        )
        + (f", {view['failed_steps']} step(s) failed" if view["failed_steps"] else "")
    )
    if "steps" in view:
        emit_table(
            [
                {
                    "#": st["position"],
                    "action": st["action"],
                    "status": st["status"],
                    "approval": "yes" if st["needs_approval"] else "",
                    "outcome": st["error"] or st["result"].get("summary", ""),
                }
                for st in view["steps"]
            ],
            ["#", "action", "status", "approval", "outcome"],
            fmt=output,
        )


@app.command("playbooks")
def playbooks(data_dir: DataDirOpt = None, output: OutputOpt = OutputFormat.TABLE) -> None:
    """The playbooks declared in ringfence.yaml."""
    rt = open_runtime(data_dir)
    try:
        with rt.store.session() as s:
            rows = [
                {
                    "name": p.name,
                    "covers": ", ".join(p.spec.get("covers", [])),
                    "trigger": ", ".join((p.spec.get("trigger") or {}).get("rules", [])),
                    "steps": " → ".join(st["action"] for st in p.spec.get("steps", [])),
                }
                for p in s.scalars(select(Playbook).order_by(Playbook.name))
            ]
    finally:
        rt.close()
    emit_table(rows, ["name", "covers", "trigger", "steps"], fmt=output)


@app.command("start")
def start(
    playbook: Annotated[str, typer.Argument(help="Playbook name.")],
    integration: Annotated[str, typer.Argument(help="Integration name or id.")],
    by: ByOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why (the timeline's first line).")] = "",
    connectors: ConnectorsOpt = None,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Open an incident and run the playbook until a step needs approval."""
    _run_and_show(
        data_dir,
        connectors,
        output,
        lambda r: r.start(
            playbook, integration, actor=_actor(by), reason=_text("--reason", reason)
        ),
    )


@app.command("drill")
def drill(
    playbook: Annotated[str, typer.Argument(help="Playbook name.")],
    integration: Annotated[str, typer.Argument(help="Integration to rehearse on (not changed).")],
    by: ByOpt,
    detect: Annotated[
        bool,
        typer.Option(
            "--detect",
            help="Start from the attack: inject the trigger rule's test events into monitoring "
            "and measure time to detect as well.",
        ),
    ] = False,
    connectors: ConnectorsOpt = None,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Rehearse a playbook: approvals, evidence and the team notification for real, every
    change to the estate and every vendor notice in dry-run; measures time to contain."""
    rt = open_runtime(data_dir)
    try:
        r = _responder(rt, connectors)
        if detect:
            from ringfence.monitor.wiring import build_monitor, load_config, load_rules

            rules = load_rules(load_config(rt.settings.data_dir))
            incident = r.drill_detection(
                playbook,
                integration,
                actor=_actor(by),
                monitor=build_monitor(rt, rules),
                rules=rules,
            )
        else:
            incident = r.start(
                playbook, integration, actor=_actor(by), reason=f"drill of {playbook}", drill=True
            )
        view = r.show(incident)
    finally:
        rt.close()
    _print_incident(view, output)
    if output is OutputFormat.TABLE and view.get("seconds_to_detect") is not None:
        console.print(f"detected {view['seconds_to_detect'] * 1000:.1f} ms after the injection")


@app.command("list")
def list_incidents(
    status: Annotated[
        str | None,
        typer.Option("--status", help=f"One of: {', '.join(STATUSES)}."),
    ] = None,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Incidents and drills, newest first."""
    if status is not None and status not in STATUSES:
        raise ValidationError(f"--status {status!r} is not one of {', '.join(STATUSES)}")
    rt = open_runtime(data_dir)
    try:
        rows = Responder(rt.store, rt.vault, rt.clock).incidents(status)
    finally:
        rt.close()
    emit_table(
        rows,
        ["id", "playbook", "integration", "status", "drill", "opened_at", "seconds_to_contain"],
        fmt=output,
    )


@app.command("show")
def show(
    incident: Annotated[str, typer.Argument()],
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """An incident's steps and timeline."""
    rt = open_runtime(data_dir)
    try:
        view = Responder(rt.store, rt.vault, rt.clock).show(incident)
    finally:
        rt.close()
    _print_incident(view, output)
    if output is OutputFormat.TABLE:
        emit_table(view["timeline"], ["ts", "actor", "kind", "message"], fmt=output)


@app.command("approve")
def approve(
    incident: Annotated[str, typer.Argument()],
    step: Annotated[int, typer.Argument(min=1, max=MAX_STEP, help="Step number.")],
    by: ByOpt,
    comment: Annotated[str, typer.Option("--comment")] = "",
    connectors: ConnectorsOpt = None,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Approve a waiting step (not by whoever opened the incident); the run continues."""

    def act(r: Responder) -> str:
        r.approve(incident, step, actor=_actor(by), comment=_text("--comment", comment))
        return incident

    _run_and_show(data_dir, connectors, output, act)


@app.command("skip")
def skip(
    incident: Annotated[str, typer.Argument()],
    step: Annotated[int, typer.Argument(min=1, max=MAX_STEP, help="Step number.")],
    by: ByOpt,
    comment: Annotated[str, typer.Option("--comment", help="Why it is skipped.")],
    connectors: ConnectorsOpt = None,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Decline a waiting step; the run continues with the next one."""

    def act(r: Responder) -> str:
        r.skip(incident, step, actor=_actor(by), comment=_text("--comment", comment))
        return incident

    _run_and_show(data_dir, connectors, output, act)


@app.command("close")
def close(
    incident: Annotated[str, typer.Argument()],
    by: ByOpt,
    summary: Annotated[str, typer.Option("--summary", help="What happened, what was done.")],
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Close an incident (every step decided)."""

    def act(r: Responder) -> str:
        r.close(incident, actor=_actor(by), summary=_text("--summary", summary))
        return incident

    _run_and_show(data_dir, None, output, act)


@app.command("evidence")
def evidence(
    incident: Annotated[str, typer.Argument()],
    out: Annotated[Path | None, typer.Option("--out", help="Write the bundles here.")] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """The evidence bundles collected for an incident, with their SHA-256."""
    rt = open_runtime(data_dir)
    try:
        bundles = Responder(rt.store, rt.vault, rt.clock).evidence(incident)
    finally:
        rt.close()
    data = orjson.dumps(bundles, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    if out is None:
        typer.echo(data.decode())
    else:
        out.write_bytes(data)
        console.print(f"wrote {len(bundles)} bundle(s) to {out}")


@app.command("watch")
def watch(
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    interval: Annotated[float, typer.Option("--interval", min=0.2, max=3600)] = 5.0,
    connectors: ConnectorsOpt = None,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Open an incident for each new alert a playbook's trigger matches."""
    rt = open_runtime(data_dir)
    try:
        r = _responder(rt, connectors)
        while True:
            started = r.watch_alerts()
            for incident in started:
                _print_incident(r.show(incident), output)
            if once:
                if output is OutputFormat.TABLE and not started:
                    console.print("no new alert matches a playbook trigger")
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        pass
    finally:
        rt.close()
