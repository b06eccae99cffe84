"""Helpers shared by the identity checks (pure functions of the context, no I/O)."""

from __future__ import annotations

from ringfence.posture.context import ConsoleUserFact, PostureContext


def _console(ctx: PostureContext) -> list[ConsoleUserFact]:
    if ctx.console_users is None:
        raise LookupError("no console users")
    return ctx.console_users
