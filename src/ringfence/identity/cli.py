"""``ringfence users`` and ``ringfence reviews``: console users, tokens, lifecycle, reviews.

Passwords are read from stdin or a hidden prompt, never from the command line; tokens are
printed once, when issued. Errors become one red line (``ringfence.cli.main``).
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from ringfence.cli.common import DataDirOpt, OutputOpt, open_runtime
from ringfence.cli.output import OutputFormat, console, emit_json, emit_table
from ringfence.core.errors import ValidationError
from ringfence.core.reserved import name_problem
from ringfence.identity import lifecycle
from ringfence.identity.accounts import Accounts
from ringfence.identity.reviews import AccessReviews
from ringfence.identity.scim import ScimTokens
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ringfence.store.models import Person

users_app = typer.Typer(
    help="Console/API users, tokens, SCIM tokens, deprovisioning.", no_args_is_help=True
)
reviews_app = typer.Typer(help="Access reviews of integration scopes.", no_args_is_help=True)

ACTOR = "cli"
RoleOpt = Annotated[
    list[str],
    typer.Option("--role", "-r", help="admin, security-analyst, auditor or integration-owner."),
]


def _accounts(rt: Runtime) -> Accounts:
    return Accounts(rt.store, rt.vault, rt.clock, IdentitySettings())


def _read_password(stdin: bool) -> str:
    if stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    value: str = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    return value


def _user_row(u: Any) -> dict[str, Any]:
    return {
        "id": u.id,
        "username": u.username,
        "roles": u.roles,
        "mfa": u.totp_confirmed,
        "sso": u.sso_subject is not None,
        "locked_until": u.locked_until,
        "disabled_at": u.disabled_at,
    }


_USER_COLS = ["username", "roles", "mfa", "sso", "locked_until", "disabled_at", "id"]


@users_app.command("create")
def create_user(
    username: Annotated[str, typer.Argument(help="Login name (usually the email).")],
    role: RoleOpt,
    password: Annotated[
        bool, typer.Option("--password/--no-password", help="Set a local password.")
    ] = True,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    person: Annotated[str | None, typer.Option("--person", help="Inventory person email.")] = None,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Create a user (SSO-only users: --no-password)."""
    secret = _read_password(password_stdin) if password else None
    rt = open_runtime(data_dir)
    try:
        user = _accounts(rt).create_user(
            username, roles=role, password=secret, person_email=person, actor=ACTOR
        )
    finally:
        rt.close()
    emit_table([_user_row(user)], _USER_COLS, fmt=output)


@users_app.command("list")
def list_users(data_dir: DataDirOpt = None, output: OutputOpt = OutputFormat.TABLE) -> None:
    rt = open_runtime(data_dir)
    try:
        rows = [_user_row(u) for u in _accounts(rt).list_users()]
    finally:
        rt.close()
    emit_table(rows, _USER_COLS, title="users", fmt=output)


@users_app.command("roles")
def set_roles(
    username: str,
    role: RoleOpt,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Replace a user's roles."""
    rt = open_runtime(data_dir)
    try:
        acc = _accounts(rt)
        user = acc.set_roles(acc.get_user(username).id, role, actor=ACTOR)
    finally:
        rt.close()
    emit_table([_user_row(user)], _USER_COLS, fmt=output)


def _simple(username: str, data_dir: Path | None, action: str, reason: str = "") -> None:
    rt = open_runtime(data_dir)
    try:
        acc = _accounts(rt)
        uid = acc.get_user(username).id
        if action == "disable":
            acc.set_disabled(uid, True, actor=ACTOR, reason=reason)
        elif action == "enable":
            acc.set_disabled(uid, False, actor=ACTOR, reason=reason)
        elif action == "unlock":
            acc.unlock(uid, actor=ACTOR)
        else:
            acc.reset_mfa(uid, actor=ACTOR)
    finally:
        rt.close()
    console.print(f"{action}: {username}")


ReasonOpt = Annotated[str, typer.Option("--reason", "-m", help="Why (recorded in the audit log).")]


@users_app.command("disable")
def disable(username: str, reason: ReasonOpt = "", data_dir: DataDirOpt = None) -> None:
    """Disable a user and revoke their sessions and tokens (no SCIM push re-enables it)."""
    _simple(username, data_dir, "disable", reason)


@users_app.command("enable")
def enable(username: str, reason: ReasonOpt = "", data_dir: DataDirOpt = None) -> None:
    _simple(username, data_dir, "enable", reason)


@users_app.command("unlock")
def unlock(username: str, data_dir: DataDirOpt = None) -> None:
    """Clear a lockout after failed sign-ins."""
    _simple(username, data_dir, "unlock")


@users_app.command("reset-mfa")
def reset_mfa(username: str, data_dir: DataDirOpt = None) -> None:
    """Forget a user's TOTP and recovery codes (they enrol again at next sign-in)."""
    _simple(username, data_dir, "reset-mfa")


@users_app.command("token-create")
def token_create(
    username: str,
    name: Annotated[str, typer.Option("--name", help="What the token is for.")],
    scope: Annotated[list[str], typer.Option("--scope", "-s", help="Scope (repeat).")],
    days: Annotated[int, typer.Option("--days", help="Lifetime in days.")] = 30,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Issue a personal API token (printed once)."""
    rt = open_runtime(data_dir)
    try:
        acc = _accounts(rt)
        issued = acc.issue_token(acc.get_user(username).id, name, scope, days, actor=ACTOR)
    finally:
        rt.close()
    token = issued.token.get_secret_value()
    if output is OutputFormat.JSON:
        emit_json({"id": issued.id, "token": token, "expires_at": issued.expires_at})
    else:
        console.print(f"token {issued.id} (expires {issued.expires_at:%Y-%m-%d}); shown once:")
        console.print(token, highlight=False, soft_wrap=True)


@users_app.command("token-revoke")
def token_revoke(token_id: str, data_dir: DataDirOpt = None) -> None:
    rt = open_runtime(data_dir)
    try:
        _accounts(rt).revoke_token(None, token_id, actor=ACTOR)
    finally:
        rt.close()
    console.print(f"revoked token {token_id}")


@users_app.command("scim-token-create")
def scim_token_create(
    name: Annotated[str, typer.Argument(help="Which identity provider uses it, e.g. okta.")],
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Issue a bearer token for an identity provider's SCIM client (printed once)."""
    rt = open_runtime(data_dir)
    try:
        issued = ScimTokens(rt.store, rt.clock).issue(name, actor=ACTOR)
    finally:
        rt.close()
    if output is OutputFormat.JSON:
        emit_json({"id": issued.id, "token": issued.token.get_secret_value()})
    else:
        console.print(f"SCIM token {issued.id} for {name}; shown once:")
        console.print(issued.token.get_secret_value(), highlight=False, soft_wrap=True)


@users_app.command("scim-token-list")
def scim_token_list(data_dir: DataDirOpt = None, output: OutputOpt = OutputFormat.TABLE) -> None:
    rt = open_runtime(data_dir)
    try:
        rows = [
            {"id": t.id, "name": t.name, "last_used_at": t.last_used_at, "revoked_at": t.revoked_at}
            for t in ScimTokens(rt.store, rt.clock).list()
        ]
    finally:
        rt.close()
    emit_table(rows, ["name", "last_used_at", "revoked_at", "id"], title="SCIM tokens", fmt=output)


@users_app.command("scim-token-revoke")
def scim_token_revoke(token_id: str, data_dir: DataDirOpt = None) -> None:
    rt = open_runtime(data_dir)
    try:
        ScimTokens(rt.store, rt.clock).revoke(token_id, actor=ACTOR)
    finally:
        rt.close()
    console.print(f"revoked SCIM token {token_id}")


def _person(s: Session, ref: str) -> Person:
    """The person with id or e-mail ``ref``, or a NotFoundError naming it."""
    from sqlalchemy import or_, select

    from ringfence.core.errors import NotFoundError
    from ringfence.store.models import Person

    row = s.scalar(select(Person).where(or_(Person.id == ref, Person.email == ref.lower())))
    if row is None:
        raise NotFoundError(f"no person {ref!r}")
    return row


@users_app.command("deactivate-person")
def deactivate_person(
    person: Annotated[str, typer.Argument(help="Person email or id.")],
    reason: Annotated[
        str, typer.Option("--reason", "-m", help="Why (recorded with the emergency hold).")
    ] = "",
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Deprovision a person: findings for owned integrations, tokens revoked, quarantine.

    An emergency hold: the IdP's SCIM active=true cannot undo it; `reactivate-person
    --reason` lifts it."""

    rt = open_runtime(data_dir)
    try:
        with rt.store.session() as s:
            row = _person(s, person)
            report = lifecycle.deactivate_person(
                s,
                row,
                actor=ACTOR,
                clock=rt.clock,
                quarantine=IdentitySettings().quarantine_on_deprovision,
                hold_reason=reason[:2000],
            )
    finally:
        rt.close()
    emit_table(
        [
            {
                "person": person,
                "findings": len(report.findings),
                "quarantined": len(report.quarantined),
                "tokens_revoked": report.tokens_revoked,
            }
        ],
        ["person", "findings", "quarantined", "tokens_revoked"],
        fmt=output,
    )


@users_app.command("reactivate-person")
def reactivate_person(
    person: Annotated[str, typer.Argument(help="Person email or id.")],
    reason: Annotated[
        str, typer.Option("--reason", "-m", help="Why (needed to lift an emergency hold).")
    ] = "",
    data_dir: DataDirOpt = None,
) -> None:
    """Reactivate a person; lifts an emergency hold (then --reason is required)."""

    rt = open_runtime(data_dir)
    try:
        with rt.store.session() as s:
            row = _person(s, person)
            resolved = lifecycle.reactivate_person(
                s, row, actor=ACTOR, clock=rt.clock, lift_reason=reason[:2000] or None
            )
    finally:
        rt.close()
    console.print(f"reactivated {person}: {resolved} finding(s) resolved")


@users_app.command("reconcile")
def reconcile(data_dir: DataDirOpt = None, output: OutputOpt = OutputFormat.TABLE) -> None:
    """Reach the integrations of people deactivated outside identity (inventory, apply)."""
    rt = open_runtime(data_dir)
    try:
        with rt.store.session() as s:
            reports = lifecycle.reconcile(
                s,
                actor=ACTOR,
                clock=rt.clock,
                quarantine=IdentitySettings().quarantine_on_deprovision,
            )
            rows = [
                {
                    "person_id": r.person_id,
                    "findings": len(r.findings),
                    "quarantined": len(r.quarantined),
                }
                for r in reports
            ]
    finally:
        rt.close()
    emit_table(rows, ["person_id", "findings", "quarantined"], title="reconciled", fmt=output)


@users_app.command("reassign-owner")
def reassign_owner(
    integration: Annotated[str, typer.Argument(help="Integration name or id.")],
    person: Annotated[str, typer.Argument(help="New owner: person email or id.")],
    data_dir: DataDirOpt = None,
) -> None:
    """Give an integration a new owner (resolves owner-left findings, lifts that quarantine)."""

    rt = open_runtime(data_dir)
    try:
        with rt.store.session() as s:
            integ_id = lifecycle.integration_id_of(s, integration)
            owner_id = _person(s, person).id
            integ = lifecycle.reassign_owner(s, integ_id, owner_id, actor=ACTOR, clock=rt.clock)
            status = integ.status.value
    finally:
        rt.close()
    console.print(f"{integration}: owner {person}, status {status}")


@users_app.command("findings")
def findings(data_dir: DataDirOpt = None, output: OutputOpt = OutputFormat.TABLE) -> None:
    """Open lifecycle findings (integrations whose owner left)."""
    rt = open_runtime(data_dir)
    try:
        with rt.store.session() as s:
            rows = [
                {"id": f.id, "severity": f.severity, "detail": f.detail, "created_at": f.created_at}
                for f in lifecycle.open_findings(s)
            ]
    finally:
        rt.close()
    emit_table(rows, ["severity", "detail", "created_at", "id"], title="findings", fmt=output)


# -- reviews --------------------------------------------------------------------------------
def _due(value: str) -> datetime:
    try:
        due = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"--due {value!r} is not an ISO date, e.g. 2026-12-31") from None
    if due.tzinfo is None:
        from datetime import UTC

        due = due.replace(tzinfo=UTC)
    return due


@reviews_app.command("create")
def review_create(
    name: str,
    due: Annotated[str, typer.Option("--due", help="Due date, e.g. 2026-12-31.")],
    app_ref: Annotated[
        str | None, typer.Option("--app", help="Review one app's integrations.")
    ] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="Review one owner's.")] = None,
    used: Annotated[
        Path | None,
        typer.Option("--used-scopes", help="JSON {integration: [scopes]} if the gateway has none."),
    ] = None,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Open a campaign over one app's or one owner's integrations."""
    if (app_ref is None) == (owner is None):
        raise ValidationError("give exactly one of --app or --owner")
    used_scopes = None
    if used is not None:
        try:
            used_scopes = orjson.loads(used.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ValidationError(f"{used}: cannot read used scopes: {exc}") from None
        if not isinstance(used_scopes, dict) or not all(
            isinstance(v, list) for v in used_scopes.values()
        ):
            raise ValidationError(f"{used}: expected an object of integration: [scopes]")
    rt = open_runtime(data_dir)
    try:
        campaign = AccessReviews(rt.store, rt.clock).create(
            name,
            scope_kind="app" if app_ref else "owner",
            scope_ref=str(app_ref or owner),
            due_at=_due(due),
            actor=ACTOR,
            used_scopes=used_scopes,
        )
        rows = AccessReviews(rt.store, rt.clock).items(campaign.id)
        stalled = AccessReviews(rt.store, rt.clock).without_independent_reviewer(campaign.id)
    finally:
        rt.close()
    _emit_items(rows, output)
    _warn_stalled(stalled)


def _warn_stalled(stalled: list[str]) -> None:
    """Segregation of duties: items only their own owner could decide would stall silently."""
    if stalled:
        typer.echo(
            f"warning: no reviewer but their own owner for {len(stalled)} integration(s): "
            f"{', '.join(stalled)} — give a security analyst or administrator who does not own "
            "them access, or reassign them",
            err=True,
        )


_ITEM_COLS = ["integration", "owner", "granted_scopes", "unused_scopes", "decision", "id"]


def _emit_items(rows: list[dict[str, Any]], output: OutputFormat) -> None:
    emit_table(rows, _ITEM_COLS, title="review items", fmt=output)


@reviews_app.command("list")
def review_list(data_dir: DataDirOpt = None, output: OutputOpt = OutputFormat.TABLE) -> None:
    rt = open_runtime(data_dir)
    try:
        rows = [
            {"name": c.name, "status": c.status, "due_at": c.due_at, "id": c.id}
            for c in AccessReviews(rt.store, rt.clock).campaigns()
        ]
    finally:
        rt.close()
    columns = ["name", "status", "due_at", "id"]
    # Named before such names were refused (core.reserved): /reviews/{ref} cannot reach it.
    for row in rows:
        if name_problem("review campaign", str(row["name"])) is not None:
            row["note"] = "name not usable in a URL: use the id"
    if any("note" in row for row in rows):
        columns.append("note")
    emit_table(rows, columns, title="campaigns", fmt=output)


@reviews_app.command("show")
def review_show(
    campaign: str, data_dir: DataDirOpt = None, output: OutputOpt = OutputFormat.TABLE
) -> None:
    rt = open_runtime(data_dir)
    try:
        rows = AccessReviews(rt.store, rt.clock).items(campaign)
        stalled = AccessReviews(rt.store, rt.clock).without_independent_reviewer(campaign)
    finally:
        rt.close()
    _emit_items(rows, output)
    _warn_stalled(stalled)


@reviews_app.command("decide")
def review_decide(
    campaign: str,
    item: Annotated[str, typer.Argument(help="Item id (from `reviews show`).")],
    decision: Annotated[str, typer.Option("--decision", help="keep, reduce or revoke.")],
    comment: Annotated[str, typer.Option("--comment", "-m")] = "",
    keep: Annotated[
        list[str] | None, typer.Option("--keep", help="Scope to keep when reducing (repeat).")
    ] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Decide one item; a reduce applies in the store, a revoke quarantines the integration
    and asks a second person to approve the revoke (the gateway enforces both)."""
    rt = open_runtime(data_dir)
    try:
        done = AccessReviews(rt.store, rt.clock, vault=rt.vault).decide(
            campaign, item, decision=decision, comment=comment, kept_scopes=keep, actor=ACTOR
        )
    finally:
        rt.close()
    console.print(f"{decision}: item {item}")
    if done.revoke_request is not None:  # revoked is final: four eyes (docs/identity.md)
        incident = done.revoke_request.incident
        console.print(
            f"quarantined; the revoke waits for a second person: incident {incident} — "
            f"ringfence respond approve {incident} 2 --by NAME"
        )


@reviews_app.command("remind")
def review_remind(
    sink: Annotated[
        str | None,
        typer.Option(
            help="Deliver through this monitor.yaml sink: an e-mail sink writes to each "
            "reviewer, any other sink gets every reminder. Without it the reminders are listed."
        ),
    ] = None,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Remind reviewers with undecided items (campaigns due soon or overdue; once a day per
    campaign, again on the next run for a campaign whose delivery failed)."""
    from ringfence.identity.reviews import reminder_sender
    from ringfence.monitor.wiring import configured_sink

    rt = open_runtime(data_dir)
    try:
        send = reminder_sender(configured_sink(rt, sink)) if sink else None
        days = IdentitySettings().review_reminder_days
        reminders = AccessReviews(rt.store, rt.clock).reminders(
            within_days=days, actor=ACTOR, send=send
        )
    finally:
        rt.close()
    emit_table(
        [r.__dict__ for r in reminders],
        ["campaign", "reviewer", "pending", "due_at", "overdue", "delivery"],
        title="reminders",
        fmt=output,
    )
    failed = [r for r in reminders if (r.delivery or "").startswith("failed")]
    if failed:
        console.print(f"[red]{len(failed)} reminder(s) not delivered[/]: they are retried next run")
        raise typer.Exit(1)


@reviews_app.command("close")
def review_close(campaign: str, data_dir: DataDirOpt = None) -> None:
    rt = open_runtime(data_dir)
    try:
        counts = AccessReviews(rt.store, rt.clock).close(campaign, actor=ACTOR)
    finally:
        rt.close()
    console.print(
        f"closed {campaign}: {counts['decided']} decided, {counts['undecided']} undecided"
    )


@reviews_app.command("export")
def review_export(
    campaign: str,
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv or json")] = "json",
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file.")] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Evidence for auditors: every item, decision, comment, plus the audit-chain head."""
    rt = open_runtime(data_dir)
    try:
        body = AccessReviews(rt.store, rt.clock).export(campaign, fmt)
    finally:
        rt.close()
    if out is None:
        sys.stdout.write(body if body.endswith("\n") else body + "\n")
    else:
        out.write_text(body, encoding="utf-8")
        console.print(f"wrote {out}")
