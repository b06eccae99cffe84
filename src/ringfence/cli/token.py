"""``ringfence token``: create, list and revoke control-plane API tokens.

A token is printed exactly once, at creation; only its hash is stored, so it can never be
shown again (list shows its id, prefix and metadata). Creation and revocation are written to
the audit log. This module never logs a token and never prints one except at creation.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ringfence.cli.common import DataDirOpt, OutputOpt, open_runtime
from ringfence.cli.output import OutputFormat, console, emit_json, emit_table
from ringfence.store.apitokens import ApiTokens

app = typer.Typer(help="Control-plane API tokens (Authorization: Bearer rf_cp_...).")

_ACTOR = "cli"


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
    data_dir: DataDirOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Create a token and print it ONCE; store it in your secret manager right away."""
    clean = name.strip()
    if not clean or len(clean) > 200 or not clean.isprintable():
        raise typer.BadParameter("token name must be 1-200 printable characters", param_hint="NAME")
    rt = open_runtime(data_dir)
    try:
        # the token and its api_token.create record in one transaction
        issued = ApiTokens(rt.store, rt.clock).issue(
            clean, scope or ["read"], ttl_days, actor=_ACTOR
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
                "token": secret,
            }
        )
        return
    expires = issued.expires_at.strftime("%Y-%m-%d %H:%M UTC") if issued.expires_at else "never"
    console.print(
        f"created API token [bold]{issued.name}[/] (id {issued.id}, "
        f"scopes {', '.join(issued.scopes)}, expires {expires})"
    )
    console.print(
        "[bold yellow]TOKEN (shown only once — it cannot be retrieved again):[/]", highlight=False
    )
    # Printed raw (no markup, no wrapping) so copying it is exact.
    console.print(secret, markup=False, highlight=False, soft_wrap=True)
    console.print("use it as: Authorization: Bearer <token>", highlight=False)


@app.command("list")
def list_tokens(data_dir: DataDirOpt = None, output: OutputOpt = OutputFormat.TABLE) -> None:
    """List tokens (never their value): id, name, scopes, expiry, last use, state."""
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
        ["id", "name", "prefix", "scopes", "state", "expires_at", "last_used_at"],
        title="API tokens",
        fmt=output,
    )


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
