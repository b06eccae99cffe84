"""``ringfence connectors``: supported vendors and their permissions, pull into the store, and
the incident-response actions (revoke grant, suspend app, deactivate person).

Actions need a ``--yes`` confirmation and are written to the control-plane audit chain.
Credentials come from the vault/environment by reference and are never printed.
"""

from __future__ import annotations

import enum
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from sqlalchemy import select

from ringfence.cli.common import DataDirOpt, OutputOpt, open_runtime
from ringfence.cli.output import OutputFormat, console, emit_json, emit_table
from ringfence.connectors import (
    CONNECTORS,
    AuditPullReport,
    CheckpointStore,
    Connector,
    FileCheckpoints,
    build_connector,
    checkpoint_key,
    load_connector_configs,
)
from ringfence.connectors.permissions import PERMISSIONS
from ringfence.core.errors import NotFoundError, RingfenceError, ValidationError
from ringfence.store import audit

if TYPE_CHECKING:
    from ringfence.core.clock import Clock
    from ringfence.monitor.service import Monitor

app = typer.Typer(
    help="SaaS connectors: permissions, pull, response actions.", no_args_is_help=True
)


class Action(enum.StrEnum):
    REVOKE_GRANT = "revoke-grant"
    SUSPEND_APP = "suspend-app"
    DEACTIVATE_PERSON = "deactivate-person"


_KIND = {
    Action.REVOKE_GRANT: "grant",
    Action.SUSPEND_APP: "app",
    Action.DEACTIVATE_PERSON: "person",
}


@app.command("vendors")
def vendors(output: OutputOpt = OutputFormat.TABLE) -> None:
    """Supported vendors, the read-only permissions they need and what actions add."""
    rows = [
        {
            "vendor": v,
            "read": ", ".join(PERMISSIONS[v].read),
            "actions": ", ".join(PERMISSIONS[v].actions),
        }
        for v in sorted(CONNECTORS)
    ]
    emit_table(rows, ["vendor", "read", "actions"], fmt=output)


@app.command("pull")
def pull(
    config: Annotated[Path, typer.Option("--config", "-c", help="connectors.yaml")],
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Pull people, apps and grants from every configured tenant into the store.

    Exits 3 when a vendor's pull had errors (what was pulled is still stored and shown)."""
    from ringfence.posture.cli import _exit_if_partial, _pull

    rt = open_runtime(data_dir)
    try:
        rows = _pull(rt, config)
    finally:
        rt.close()
    emit_table(rows, ["vendor", "people", "apps", "grants", "errors"], fmt=output)
    _exit_if_partial(rows)


def audit_into_monitor(
    conn: Connector,
    monitor: Monitor,
    clock: Clock,
    *,
    since: datetime | None = None,
    max_pages: int | None = None,
    checkpoints: CheckpointStore | None = None,
) -> dict[str, object]:
    """Pull every audit stream of ``conn`` and hand each page, unparsed, to monitoring's
    ingest with the parser that stream's records are for; one summary row for the vendor.

    A stream that fails does not stop the others (Entra sign-ins need a P1 licence the
    directory audits do not); its error is in the row, prefixed with the stream's name.
    With ``checkpoints``, each stream resumes from the checkpoint its last pull saved (the
    logs that resume by time) and saves the one this pull returns, after its pages were
    handed over; a checkpoint that cannot be read is that stream's error, not a fresh start."""
    import orjson

    from ringfence.monitor.ingest import ingest

    row: dict[str, object] = {}
    totals = {"pages": 0, "records": 0, "events": 0, "dead_lettered": 0, "duplicates": 0}
    errors: list[str] = []
    resume: list[str] = []
    done: list[str] = []
    for stream in conn.audit_streams():
        counts = {"events": 0, "dead_lettered": 0}

        def hand_over(
            page: list[dict[str, object]],
            source: str = stream.source,
            counts: dict[str, int] = counts,
        ) -> None:
            if not page:  # every record of the page was read by an earlier pull
                return
            report = ingest(
                orjson.dumps(page),
                source=source,
                origin=f"connector:{conn.vendor}",
                events_store=monitor.events,
                publish=monitor.process,
                now=clock.now(),
            )
            counts["events"] += report.events
            counts["dead_lettered"] += report.dead_lettered

        key = checkpoint_key(conn.vendor, conn.config.base_url, stream.name)
        try:
            # --since asks for everything from then: no checkpoint narrows it
            previous = checkpoints.load(key) if checkpoints and since is None else None
            pulled = conn.audit_stream(
                stream.name, hand_over, since=since, max_pages=max_pages, checkpoint=previous
            )
            if checkpoints is not None and pulled.checkpoint is not None:
                checkpoints.save(key, pulled.checkpoint)
        except RingfenceError as exc:
            # a log that cannot be read at all (the Management Activity API's own credential
            # unset) is that log's error; the vendor's other logs were and are still read
            pulled = AuditPullReport()
            errors.append(f"{stream.name}: {exc.message}")
        totals["pages"] += pulled.pages
        totals["records"] += pulled.records
        totals["events"] += counts["events"]
        totals["dead_lettered"] += counts["dead_lettered"]
        totals["duplicates"] += pulled.duplicates
        done.append(f"{stream.name} {pulled.records}")
        # a gap is audit data the vendor no longer keeps: reported (exit 3) the one time
        errors.extend(f"{stream.name}: {gap}" for gap in pulled.gaps)
        if pulled.error is not None:
            errors.append(f"{stream.name}: {pulled.error}")
            if pulled.resume:
                resume.append(f"{stream.name}: {pulled.resume}")
    row.update(
        vendor=conn.vendor,
        **totals,
        streams=", ".join(done),
        error="; ".join(errors),
        resume="; ".join(resume),
    )
    return row


@app.command("audit")
def audit_pull(
    config: Annotated[Path, typer.Option("--config", "-c", help="connectors.yaml")],
    vendor: Annotated[str | None, typer.Option(help="Only this vendor.")] = None,
    since: Annotated[
        str | None, typer.Option(help="ISO 8601 start, e.g. 2026-11-01T00:00Z")
    ] = None,
    max_pages: Annotated[int | None, typer.Option(min=1)] = None,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Fetch audit-log pages and hand them to monitoring's ingest (OCSF, Sigma, UEBA).

    Every audit log of a vendor is read: Google's Reports API token, admin and login
    activity (option audit_applications), Entra directory audits and sign-ins, and the
    Office 365 Management Activity API when configured. Those two resume from the checkpoint
    the last run saved in the data directory (less an overlap; already-read records skipped);
    --since overrides where they start.

    Exits 3 when a vendor's pull stopped on an error (the pages before it were ingested)."""
    from ringfence.monitor.wiring import build_monitor
    from ringfence.posture.cli import _exit_if_partial

    start = None
    if since is not None:
        try:
            start = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(f"--since {since!r} is not an ISO 8601 time") from None
        if start.tzinfo is None:
            raise ValidationError("--since needs a timezone (e.g. Z or +00:00)")
    configs = [c for c in load_connector_configs(config) if vendor in (None, c.vendor)]
    if not configs:
        raise ValidationError(f"{config} has no connector for vendor {vendor!r}")
    rt = open_runtime(data_dir)
    rows = []
    try:
        monitor = build_monitor(rt)
        checkpoints = FileCheckpoints.in_data_dir(rt.settings.data_dir)
        for cfg in configs:
            with build_connector(cfg, secrets=rt.vault, clock=rt.clock) as conn:
                rows.append(
                    audit_into_monitor(
                        conn,
                        monitor,
                        rt.clock,
                        since=start,
                        max_pages=max_pages,
                        checkpoints=checkpoints,
                    )
                )
    finally:
        rt.close()
    emit_table(
        rows,
        ["vendor", "streams", "pages", "records", "events", "dead_lettered", "error"],
        fmt=output,
    )
    _exit_if_partial([{"vendor": r["vendor"], "errors": r["error"]} for r in rows])


@app.command("act")
def act(
    action: Annotated[Action, typer.Argument()],
    vendor: Annotated[str, typer.Argument()],
    external_id: Annotated[str, typer.Argument(help="As stored by the last pull.")],
    config: Annotated[Path, typer.Option("--config", "-c", help="connectors.yaml")],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm the action.")] = False,
    actor: Annotated[str, typer.Option("--by")] = "cli",
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Run a response action against a SaaS tenant (needs the action permissions)."""
    from ringfence.posture.loader import app_from_json, grant_from_json, person_from_json
    from ringfence.posture.models import SaasObservation

    if not yes:
        raise ValidationError(f"{action.value} changes {vendor}; rerun with --yes to confirm")
    cfg = next((c for c in load_connector_configs(config) if c.vendor == vendor), None)
    if cfg is None:
        raise ValidationError(f"{config} has no connector for vendor {vendor!r}")
    rt = open_runtime(data_dir)
    try:
        with rt.store.session() as s:
            row = s.scalar(
                select(SaasObservation).where(
                    SaasObservation.vendor == vendor,
                    SaasObservation.kind == _KIND[action],
                    SaasObservation.external_id == external_id,
                )
            )
            if row is None:
                raise NotFoundError(
                    f"no {_KIND[action]} {external_id!r} observed in {vendor}; "
                    "run `ringfence connectors pull` first"
                )
            data = dict(row.data)
        with build_connector(cfg, secrets=rt.vault, clock=rt.clock) as conn:
            if action is Action.REVOKE_GRANT:
                result = conn.revoke_grant(grant_from_json(data))
            elif action is Action.SUSPEND_APP:
                result = conn.suspend_app(app_from_json(data))
            else:
                result = conn.deactivate_person(person_from_json(data))
        with rt.store.session() as s:
            audit.append(
                s,
                actor=actor,
                action=f"connector.{result.action}",
                entity_type=f"saas_{_KIND[action]}",
                entity_id=f"{vendor}:{external_id}",
                after={"ok": result.ok, "detail": result.detail},
                clock=rt.clock,
            )
    finally:
        rt.close()
    if output is OutputFormat.JSON:
        emit_json(result.__dict__)
    else:
        # target and detail come from the SaaS tenant: text, never Rich markup
        console.print(f"{vendor} {result.action} {result.target}: {result.detail}", markup=False)
