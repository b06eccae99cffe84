"""``ringfence token``: create, list, attribute and revoke control-plane API tokens.

A token is printed exactly once, at creation; only its hash is stored, so it can never be
shown again (list shows its id, prefix and metadata). Creation, attribution and revocation are
written to the audit log. This module never logs a token and never prints one except at
creation.

Each token records its creator (``--by``): four-eyes checks treat what a token requests as
its creator's request, and a token created with no person named (``cli``) or before creators
were recorded cannot be one of the two eyes until ``token attribute`` names its person
(docs/respond.md, "Who may approve").
"""

from __future__ import annotations

from typing import Annotated

import typer

from ringfence.cli.common import DataDirOpt, OutputOpt, open_runtime
from ringfence.cli.output import OutputFormat, console, emit_json, emit_table
from ringfence.core.errors import ValidationError
from ringfence.runtime import Runtime
from ringfence.store.apitokens import CLI_CREATOR, ApiTokens, person_creator

app = typer.Typer(help="Control-plane API tokens (Authorization: Bearer rf_cp_...).")

_ACTOR = "cli"
_BY_HELP = (
    "The person creating the token (console username or e-mail): what the token requests "
    "(an incident, a revoke) counts as theirs for four eyes, so they cannot approve it. "
    "Without --by the token is recorded as made by 'cli', no person: nothing it requests "
    "can be approved until `token attribute` names one."
)


def _person(rt: Runtime, by: str) -> str:
    """``user:NAME`` for ``--by``, if NAME is a console user or an inventory person: a typo
    would record someone who never approves anything, and so exclude no one."""
    from sqlalchemy import func, select

    from ringfence.identity.models import ConsoleUser
    from ringfence.respond.engine import person_of
    from ringfence.store.models import Person

    creator = person_creator(by)
    name = person_of(creator) or ""
    with rt.store.session() as s:
        known = s.scalar(
            select(ConsoleUser.id).where(func.lower(ConsoleUser.username) == name)
        ) or s.scalar(select(Person.id).where(func.lower(Person.email) == name))
    if known is None:
        raise ValidationError(
            f"--by: no console user or person {name!r} (name the person by their console "
            "username or inventory e-mail)"
        )
    return creator


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. ci-deploy.")],
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", "-s", help="read or write (repeatable; write implies read)."),
    ] = None,
    ttl_days: Annotated[
        int, typer.Option("--ttl-days", help="Days until the token expires (1-3650).")
    ] = 90,
    by: Annotated[str | None, typer.Option("--by", help=_BY_HELP)] = None,
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Create a token and print it ONCE; store it in your secret manager right away."""
    clean = name.strip()
    if not clean or len(clean) > 200 or not clean.isprintable():
        raise typer.BadParameter("token name must be 1-200 printable characters", param_hint="NAME")
    rt = open_runtime(data_dir)
    try:
        creator = _person(rt, by) if by is not None else CLI_CREATOR
        # the token and its api_token.create record in one transaction
        issued = ApiTokens(rt.store, rt.clock).issue(
            clean, scope or ["read"], ttl_days, actor=_ACTOR, created_by=creator
        )
    finally:
        rt.close()
    secret = issued.token.get_secret_value()
    if output is OutputFormat.JSON:
        emit_json(
            {
                "id": issued.id,
                "name": issued.name,
                "scopes": list(issued.scopes),
                "expires_at": issued.expires_at,
                "created_by": issued.created_by,
                "token": secret,
            }
        )
        return
    expires = issued.expires_at.strftime("%Y-%m-%d %H:%M UTC") if issued.expires_at else "never"
    console.print(
        f"created API token [bold]{issued.name}[/] (id {issued.id}, "
        f"scopes {', '.join(issued.scopes)}, expires {expires}, created by "
        f"{issued.created_by})",
        highlight=False,
    )
    if issued.created_by == CLI_CREATOR:
        console.print(
            "[yellow]no --by: this token stands for no person, so nothing it requests "
            "(incidents' irreversible steps, integration revokes) can be approved until "
            f"`ringfence token attribute {issued.id} --by NAME`[/]",
            highlight=False,
        )
    console.print(
        "[bold yellow]TOKEN (shown only once — it cannot be retrieved again):[/]", highlight=False
    )
    # Printed raw (no markup, no wrapping) so copying it is exact.
    console.print(secret, markup=False, highlight=False, soft_wrap=True)
    console.print("use it as: Authorization: Bearer <token>", highlight=False)


@app.command("list")
def list_tokens(data_dir: DataDirOpt = None, output: OutputOpt = OutputFormat.TABLE) -> None:
    """List tokens (never their value): id, name, scopes, creator, expiry, last use, state.

    created_by: user:NAME (a person), cli (made without --by: no person) or null (made
    before creators were recorded: unknown). Only a person's tokens can have what they
    request approved (four eyes); `token attribute` names the others' person."""
    rt = open_runtime(data_dir)
    try:
        now = rt.clock.now()
        rows = [
            {
                "id": t.id,
                "name": t.name,
                "prefix": f"rf_cp_{t.prefix}_…",
                "scopes": list(t.scopes),
                "created_at": t.created_at,
                "created_by": t.created_by,
                "expires_at": t.expires_at,
                "last_used_at": t.last_used_at,
                "state": "revoked"
                if t.revoked_at
                else ("expired" if t.expires_at and t.expires_at <= now else "active"),
            }
            for t in ApiTokens(rt.store, rt.clock).list()
        ]
    finally:
        rt.close()
    emit_table(
        rows,
        ["id", "name", "prefix", "scopes", "created_by", "state", "expires_at", "last_used_at"],
        title="API tokens",
        fmt=output,
    )


@app.command("attribute")
def attribute(
    token_id: Annotated[str, typer.Argument(metavar="ID", help="Token id from `token list`.")],
    by: Annotated[
        str,
        typer.Option(
            "--by",
            help="The person the token stands for (console username or e-mail): they cannot "
            "approve what it requests.",
        ),
    ],
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Name the person behind a token made without --by (or before creators were recorded).

    Until then four eyes fail closed: nothing the token requests can be approved. A token
    whose creator is already a person is refused (revoke it and create another)."""
    rt = open_runtime(data_dir)
    try:
        creator = ApiTokens(rt.store, rt.clock).attribute(token_id, _person(rt, by), actor=_ACTOR)
    finally:
        rt.close()
    if output is OutputFormat.JSON:
        emit_json({"id": token_id, "created_by": creator})
    else:
        console.print(f"API token {token_id} now stands for {creator}", highlight=False)


@app.command("revoke")
def revoke(
    token_id: Annotated[str, typer.Argument(metavar="ID", help="Token id from `token list`.")],
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Revoke a token at once; requests using it get 401 from then on."""
    rt = open_runtime(data_dir)
    try:
        ApiTokens(rt.store, rt.clock).revoke(token_id, actor=_ACTOR)  # and its record, atomically
    finally:
        rt.close()
    if output is OutputFormat.JSON:
        emit_json({"id": token_id, "revoked": True})
    else:
        console.print(f"revoked API token {token_id}")
