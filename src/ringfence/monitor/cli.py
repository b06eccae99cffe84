"""Monitoring commands: ``ringfence ingest``, ``ringfence hunt`` and the ``ringfence monitor``
group (dead letters, retention purge), registered by ``register(app)``.

Bad input (unknown source, unreadable file, bad time or filter) is one clear error line; a
malformed record inside a file is dead-lettered and counted, never fatal.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from ringfence.cli.common import DataDirOpt, OutputOpt, open_runtime
from ringfence.cli.output import OutputFormat, console, emit_json, emit_table
from ringfence.core.errors import ValidationError
from ringfence.monitor.events import Event, OcsfClass
from ringfence.monitor.parsers import PARSERS, parser_for
from ringfence.monitor.storage import FieldFilter, HuntQuery
from ringfence.monitor.timeparse import parse_when

monitor_app = typer.Typer(help="Monitoring: dead letters, retention.", no_args_is_help=True)


def _class_uid(value: str) -> int:
    if value.isdigit():
        return int(value)
    key = value.strip().upper().replace(" ", "_").replace("-", "_")
    aliases = {"HTTP": "HTTP_ACTIVITY", "API": "API_ACTIVITY", "AUTH": "AUTHENTICATION"}
    try:
        return int(OcsfClass[aliases.get(key, key)])
    except KeyError:
        names = ", ".join(c.name.lower() for c in OcsfClass)
        raise ValidationError(
            f"unknown event class {value!r}; use a class_uid or one of {names}"
        ) from None


def _read_input(file: Path) -> bytes:
    if str(file) == "-":
        return sys.stdin.buffer.read()
    try:
        return file.read_bytes()
    except OSError as exc:
        raise ValidationError(f"cannot read {file}: {exc.strerror or exc}") from None


def register(app: typer.Typer) -> None:
    app.add_typer(monitor_app, name="monitor")
    from ringfence.monitor import rules_cli

    app.add_typer(rules_cli.rules_app, name="rules")
    app.add_typer(rules_cli.alerts_app, name="alerts")

    @app.command("ingest")
    def ingest_cmd(
        file: Annotated[Path, typer.Argument(help="NDJSON file or a vendor JSON page; - = stdin")],
        source: Annotated[
            str, typer.Option("--source", "-s", help=f"One of: {', '.join(sorted(PARSERS))}.")
        ],
        data_dir: DataDirOpt = None,
        output: OutputOpt = OutputFormat.TABLE,
        by: Annotated[
            str,
            typer.Option(
                "--by",
                help="Who supplies these records (audited; cannot approve the response to "
                "an incident they raise).",
            ),
        ] = "cli",
    ) -> None:
        """Parse a vendor audit-log export into OCSF events; bad records are dead-lettered."""
        from ringfence.monitor.ingest import ingest, supplier_recorder
        from ringfence.monitor.wiring import build_monitor

        parser_for(source)  # unknown source → clear error before reading anything
        data = _read_input(file)
        rt = open_runtime(data_dir)
        loop = None
        record_supplier = supplier_recorder(rt.store, by, source, rt.clock)
        try:
            if rt.settings.nats_url:
                # scale-out: publish to JetStream; `ringfence monitor worker`s store + analyse
                import asyncio

                from ringfence.bus.nats import NatsBus
                from ringfence.monitor.service import Monitor
                from ringfence.monitor.wiring import load_config, nats_options

                bus = NatsBus(
                    rt.settings.nats_url, **nats_options(load_config(rt.settings.data_dir))
                )
                loop = asyncio.new_event_loop()
                events_store = Monitor(rt.store, rt.clock).events

                def publish(batch: Sequence[Event]) -> int:
                    assert loop is not None
                    loop.run_until_complete(bus.publish(batch))
                    return 0

                report = ingest(
                    data,
                    source=source,
                    origin=f"file:{file.name}",
                    events_store=events_store,
                    publish=publish,
                    now=rt.clock.now(),
                    before_publish=record_supplier,
                )
                loop.run_until_complete(bus.close())
            else:
                monitor = build_monitor(rt)
                report = ingest(
                    data,
                    source=source,
                    origin=f"file:{file.name}",
                    events_store=monitor.events,
                    publish=monitor.process,
                    now=rt.clock.now(),
                    before_publish=record_supplier,
                )
        finally:
            if loop is not None:
                loop.close()
            rt.close()
        if output is OutputFormat.JSON:
            emit_json(report.to_dict())
            return
        d = report.to_dict()
        if rt.settings.nats_url:
            console.print(
                f"{source}: {d['records']} records → {d['events']} events published to NATS, "
                f"{d['dead_lettered']} dead-lettered"
            )
            return
        console.print(
            f"{source}: {d['records']} records → {d['events']} events "
            f"({d['new']} new, {d['duplicates']} already stored), "
            f"{d['dead_lettered']} dead-lettered"
        )
        for reason, n in sorted(report.reasons.items()):
            console.print(f"  dead letter: {reason}: {n}", markup=False)  # from the record

    @app.command("hunt")
    def hunt_cmd(
        since: Annotated[str | None, typer.Option(help="ISO time or 24h / 7d ago.")] = None,
        until: Annotated[str | None, typer.Option(help="ISO time or duration ago.")] = None,
        source: Annotated[list[str] | None, typer.Option("--source", "-s")] = None,
        event_class: Annotated[
            list[str] | None, typer.Option("--class", "-c", help="class_uid or name")
        ] = None,
        action: Annotated[list[str] | None, typer.Option("--action", "-a")] = None,
        entity: Annotated[str | None, typer.Option("--entity", "-e", help="actor or IP")] = None,
        where: Annotated[
            list[str] | None,
            typer.Option("--where", "-w", help="PATH=VALUE, PATH!=VALUE, PATH~VALUE"),
        ] = None,
        limit: Annotated[int, typer.Option(min=1, max=100_000)] = 100,
        data_dir: DataDirOpt = None,
        output: OutputOpt = OutputFormat.TABLE,
    ) -> None:
        """Query stored events by time, entity, class and field filters."""
        from ringfence.monitor.storage import EventStore

        for s in source or []:
            parser_for(s)
        filters = [FieldFilter.parse(w) for w in where or []]
        classes = [_class_uid(c) for c in event_class or []]
        rt = open_runtime(data_dir)
        try:
            now = rt.clock.now()
            query = HuntQuery(
                since=parse_when(since, now, "--since") if since else None,
                until=parse_when(until, now, "--until") if until else None,
                sources=list(source or []),
                class_uids=classes,
                actions=list(action or []),
                entity=entity,
                filters=filters,
                limit=limit,
            )
            events = EventStore(rt.store).hunt(query)
        finally:
            rt.close()
        if output is OutputFormat.JSON:
            emit_json([e.to_dict() for e in events])
            return
        rows = [
            {
                "time": e.time,
                "source": e.source,
                "class": e.class_uid,
                "action": e.action,
                "actor": e.actor,
                "src_ip": e.src_ip,
                "status": {1: "success", 2: "failure"}.get(e.status_id, "unknown"),
            }
            for e in events
        ]
        emit_table(
            rows,
            ["time", "source", "class", "action", "actor", "src_ip", "status"],
            title=f"{len(rows)} events",
        )


@monitor_app.command("dead-letters")
def dead_letters(
    source: Annotated[str | None, typer.Option("--source", "-s")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Records that could not be parsed, with the reason; counts per source first."""
    from ringfence.monitor.storage import EventStore

    rt = open_runtime(data_dir)
    try:
        es = EventStore(rt.store)
        counts = es.dead_letter_counts()
        rows = [
            {
                "received_at": d.received_at,
                "source": d.source,
                "origin": d.origin,
                "line": d.line_no,
                "reason": d.reason,
            }
            for d in es.dead_letters(source, limit)
        ]
    finally:
        rt.close()
    if output is OutputFormat.JSON:
        emit_json({"counts": counts, "dead_letters": rows})
        return
    console.print(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "no dead letters")
    emit_table(rows, ["received_at", "source", "origin", "line", "reason"])


@monitor_app.command("purge")
def purge(
    retention: Annotated[
        list[str] | None, typer.Option("--retention", "-r", help="SOURCE=DAYS, repeatable")
    ] = None,
    default_days: Annotated[
        int | None, typer.Option(min=1, help="Default 90 or retention_days.default")
    ] = None,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Delete events older than each source's retention (drops whole day partitions on PG).

    Without --retention, the policy is ``retention_days`` of monitor.yaml."""
    from ringfence.cli.common import settings_for
    from ringfence.monitor.storage import EventStore
    from ringfence.monitor.wiring import load_config

    cfg_days = load_config(settings_for(data_dir).data_dir).get("retention_days") or {}
    if not isinstance(cfg_days, dict):
        raise ValidationError("monitor.yaml: retention_days must map a source to days")
    policy: dict[str, int] = {}
    if not retention:
        for name, days in cfg_days.items():
            if name == "default":
                continue
            parser_for(str(name))
            if not isinstance(days, int) or days < 1:
                raise ValidationError(f"monitor.yaml: retention_days.{name} must be >= 1")
            policy[str(name)] = days
    if default_days is None:
        default_days = int(cfg_days.get("default", 90))
    for spec in retention or []:
        name, _, days = spec.partition("=")
        if not days.strip().isdigit() or not name.strip():
            raise ValidationError(f"bad --retention {spec!r}: expected SOURCE=DAYS")
        parser_for(name.strip())
        policy[name.strip()] = int(days)
    rt = open_runtime(data_dir)
    try:
        removed = EventStore(rt.store).purge(rt.clock.now(), policy, default_days)
    finally:
        rt.close()
    if output is OutputFormat.JSON:
        emit_json({"removed": removed})
        return
    console.print(
        ", ".join(f"{k}: {v} removed" for k, v in sorted(removed.items())) or "nothing to purge"
    )


@monitor_app.command("deliver")
def deliver(
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Send due alerts from the outbox to the sinks of monitor.yaml (retries with backoff)."""
    from ringfence.monitor.sinks import build_sinks, deliver_due
    from ringfence.monitor.wiring import load_config

    rt = open_runtime(data_dir)
    try:
        cfg = load_config(rt.settings.data_dir)
        sinks = build_sinks(list(cfg.get("sinks") or []), rt.vault)
        report = deliver_due(rt.store, sinks, rt.clock)
    finally:
        rt.close()
    if output is OutputFormat.JSON:
        emit_json(vars(report))
        return
    console.print(
        f"delivered {report.delivered}, failed {report.failed} (will retry), "
        f"unknown sink {report.unknown_sink}"
    )


@monitor_app.command("worker")
def worker(
    durable: Annotated[str, typer.Option(help="Consumer group (durable) name.")] = "monitor",
    data_dir: DataDirOpt = None,
) -> None:
    """Consume the NATS event stream: store, analyse, ack (needs RINGFENCE_NATS_URL)."""
    import asyncio

    from ringfence.cli.common import settings_for
    from ringfence.monitor.wiring import load_config, nats_options
    from ringfence.monitor.worker import run

    settings = settings_for(data_dir)
    options = nats_options(load_config(settings.data_dir))
    stream, prefix = options["stream"], options["subject_prefix"]
    if not settings.nats_url:
        raise ValidationError("set RINGFENCE_NATS_URL (nats://host:4222) to run a worker")
    from ringfence.bus.nats import shown_url

    # never the user, password or token of the URL: this line goes to journald / CI logs
    console.print(
        f"monitor worker on {shown_url(settings.nats_url)} stream {stream} group {durable}",
        markup=False,
    )
    asyncio.run(
        run(
            settings.nats_url,
            settings.resolved_store_url,
            stream,
            durable,
            prefix,
            30.0,
            replicas=options["replicas"],
            max_age_days=options["max_age_days"],
        )
    )
