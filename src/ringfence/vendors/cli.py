"""``ringfence vendors``: list, show, score, send, import, export (and reminders).

Thin adapters over ``ringfence.vendors.service``; errors become one red line via the CLI's
main(). The questionnaire link is printed once, at send time, and never stored in clear.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from ringfence.cli.common import DataDirOpt, OutputOpt, open_runtime
from ringfence.cli.output import OutputFormat, console, emit_json, emit_table, fail
from ringfence.vendors import evidence, service
from ringfence.vendors.assessments import DEFAULT_LINK_DAYS, MAX_LINK_DAYS
from ringfence.vendors.transfer import MAX_IMPORT_BYTES

app = typer.Typer(
    help="Vendor risk: questionnaires, evidence, contracts, scores.", no_args_is_help=True
)
ACTOR = "cli"

VendorArg = Annotated[str, typer.Argument(help="Vendor name (or id).")]


def _gaps(r: dict[str, Any]) -> str:
    gaps = []
    if not r["has_dpa"]:
        gaps.append("no DPA")
    gaps += [f"{c} expired" for c in r["expired_certifications"]]
    if r["open_critical_findings"]:
        gaps.append(f"{r['open_critical_findings']} critical finding(s)")
    if r["name_problem"]:
        gaps.append("name not usable in a URL: rename it (reach it by id until then)")
    return "; ".join(gaps)


@app.command("list")
def list_vendors(data_dir: DataDirOpt = None, output: OutputOpt = OutputFormat.TABLE) -> None:
    """Every vendor with tier, risk, assessment state and evidence gaps."""
    rt = open_runtime(data_dir)
    try:
        rows = [service.risk_dict(r) for r in service.risk(rt)]
    finally:
        rt.close()
    if output is OutputFormat.JSON:
        emit_json(rows)
        return
    table = [
        {
            "vendor": r["vendor"],
            "tier": r["tier"],
            "risk": f"{r['residual']} {r['rating']}",
            "data": r["highest_data_class"],
            "assessment": r["assessment"]["state"],
            "gaps": _gaps(r),
        }
        for r in rows
    ]
    emit_table(table, list(table[0]) if table else ["vendor"], title="vendor risk", fmt=output)


@app.command("show")
def show(
    vendor: VendorArg, data_dir: DataDirOpt = None, output: OutputOpt = OutputFormat.TABLE
) -> None:
    """Profile, contacts and communication protocol, evidence, contracts, pentests."""
    rt = open_runtime(data_dir)
    try:
        detail = service.vendor_detail(rt, vendor)
    finally:
        rt.close()
    if output is OutputFormat.JSON:
        emit_json(detail)
        return
    prof = detail["profile"] or {}
    risk = detail["risk"]
    console.print(
        f"[bold]{escape(detail['vendor'])}[/] tier {risk['tier']} · residual risk "
        f"{risk['residual']} ({risk['rating']}) · inherent {risk['inherent']}"
    )
    if prof:
        console.print(
            f"protocol: {prof['channel']}, {prof['hours']}; breach notices to "
            f"{prof['breach_notification_address'] or '(none set)'}",
            markup=False,
        )
        contacts = [
            {
                "order": c["escalation_order"],
                "name": c["name"],
                "email": c["email"],
                "role": c["role"],
            }
            for c in prof["contacts"]
        ]
        if contacts:
            emit_table(contacts, ["order", "name", "email", "role"], title="escalation")
    certs = [
        {"certification": c["label"], "valid_until": c["valid_until"], "state": c["state"]}
        for c in detail["certifications"]
    ]
    if certs:
        emit_table(certs, ["certification", "valid_until", "state"], title="certifications")
    cons = [
        {"contract": c["name"], "end": c["end_on"], "clauses": c["present"]}
        for c in detail["contracts"]
    ]
    if cons:
        emit_table(cons, ["contract", "end", "clauses"], title="contracts")
    findings = [{"pentest": t["name"], **f} for t in detail["pentests"] for f in t["findings"]]
    if findings:
        emit_table(
            findings,
            ["pentest", "id", "title", "severity", "status", "due_on"],
            title="pentest findings",
        )


@app.command("score")
def score(
    vendor: VendorArg, data_dir: DataDirOpt = None, output: OutputOpt = OutputFormat.TABLE
) -> None:
    """The risk score with every factor that made it, in points and a sentence."""
    rt = open_runtime(data_dir)
    try:
        (r,) = service.risk(rt, vendor)
    finally:
        rt.close()
    data = service.risk_dict(r)
    if output is OutputFormat.JSON:
        emit_json(data)
        return
    console.print(
        f"[bold]{escape(r.vendor)}[/]: inherent {r.inherent}, residual {r.residual} ({r.rating})"
    )
    emit_table(
        [{"part": f.part, "points": f"{f.points:+d}", "why": f.sentence} for f in r.factors],
        ["part", "points", "why"],
    )


@app.command("send")
def send(
    vendor: VendorArg,
    template: Annotated[str | None, typer.Option(help="lite or full (default: by tier).")] = None,
    recipient: Annotated[str | None, typer.Option(help="Who the link is for.")] = None,
    days: Annotated[
        int, typer.Option(min=1, max=MAX_LINK_DAYS, help="Days the link stays valid.")
    ] = DEFAULT_LINK_DAYS,
    base_url: Annotated[
        str | None, typer.Option(help="Console URL the vendor opens (default: api host:port).")
    ] = None,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Create a questionnaire and print its one-time link (shown only now)."""
    rt = open_runtime(data_dir)
    try:
        url = base_url or f"http://{rt.settings.api_host}:{rt.settings.api_port}"
        sent = service.send_assessment(
            rt, ACTOR, vendor, base_url=url, template=template, recipient=recipient, days=days
        )
    finally:
        rt.close()
    if output is OutputFormat.JSON:
        emit_json(sent.__dict__)
        return
    console.print(
        f"assessment {sent.assessment_id} ({sent.template} v{sent.template_version}, "
        f"{sent.questions} questions) for {sent.vendor}, valid until "
        f"{sent.expires_at:%Y-%m-%d %H:%M} UTC",
        markup=False,
    )
    console.print(sent.link, soft_wrap=True, highlight=False)


@app.command("export")
def export(
    assessment_id: Annotated[str, typer.Argument(help="Assessment id (see `vendors show`).")],
    out: Annotated[Path, typer.Option("--out", "-f", help="File to write (.xlsx or .csv).")],
    data_dir: DataDirOpt = None,
) -> None:
    """Write the questionnaire (with any answers) as XLSX or CSV, by the file's extension."""
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("xlsx", "csv"):
        fail(f"{out}: use a .xlsx or .csv file name")
    # Before the export is read (and audited as taken): a file that cannot be written.
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir() or not os.access(parent, os.W_OK) or out.is_dir():
        fail(f"cannot write {out}: no such writable directory, or a directory of that name")
    rt = open_runtime(data_dir)
    try:
        data, _ = service.export_assessment(rt, ACTOR, assessment_id, fmt)
    finally:
        rt.close()
    out.write_bytes(data)
    console.print(f"wrote {out} ({len(data)} bytes)")


@app.command("import")
def import_(
    assessment_id: Annotated[str, typer.Argument(help="Assessment id the answers belong to.")],
    file: Annotated[Path, typer.Argument(help="Filled-in .xlsx or .csv.")],
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Import answers: every row must be valid, or nothing is imported (each error listed)."""
    try:
        # A file saved from a vendor's archive may be a symlink to /dev/zero or a FIFO: read
        # only a regular file, and never more than the import accepts (the size check names it).
        if not stat.S_ISREG(file.stat().st_mode):
            fail(f"cannot read {file}: not a regular file")
        with file.open("rb") as f:
            content = f.read(MAX_IMPORT_BYTES + 1)
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}")
    rt = open_runtime(data_dir)
    try:
        from ringfence.core.errors import ValidationError

        try:
            result = service.import_assessment(
                rt, ACTOR, assessment_id, content, filename=file.name
            )
        except ValidationError as exc:
            if output is OutputFormat.JSON:
                emit_json(exc.to_problem())
            else:
                for e in exc.errors:
                    where = e.get("cell") or (f"row {e['row']}" if e.get("row") else "file")
                    sys.stderr.write(f"{file.name}:{where}: {e['problem']}\n")
            raise
    finally:
        rt.close()
    if output is OutputFormat.JSON:
        emit_json(result)
        return
    console.print(f"imported assessment {assessment_id}: score {result['score']}")


@app.command("reminders")
def reminders(data_dir: DataDirOpt = None, output: OutputOpt = OutputFormat.TABLE) -> None:
    """Certificates inside their 60/30/7-day expiry windows today."""
    rt = open_runtime(data_dir)
    try:
        with rt.store.session() as s:
            due = evidence.due_reminders(s, rt.clock)
    finally:
        rt.close()
    rows: list[dict[str, Any]] = [
        {
            "vendor": r.vendor,
            "certification": r.label,
            "valid_until": r.valid_until.isoformat(),
            "days_left": r.days_left,
            "stage": r.stage,
        }
        for r in due
    ]
    emit_table(
        rows,
        ["vendor", "certification", "valid_until", "days_left", "stage"],
        title="reminders",
        fmt=output,
    )


@app.command("renewals")
def renewals(
    within: Annotated[int, typer.Option(min=1, max=730, help="Days ahead to look.")] = 90,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Contracts renewing or ending soon, with the date notice must be given by."""
    rt = open_runtime(data_dir)
    try:
        with rt.store.session() as s:
            rows = service.renewals(s, rt.clock, within)
    finally:
        rt.close()
    emit_table(
        rows,
        ["vendor", "contract", "renewal_on", "notice_by", "auto_renew"],
        title="renewals",
        fmt=output,
    )
