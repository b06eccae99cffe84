"""Helpers shared by the readiness checks (pure functions of the context, no I/O)."""

from __future__ import annotations

from ringfence.posture.context import MonitoringFacts, PostureContext, ReadinessFacts


def _ir(ctx: PostureContext) -> ReadinessFacts:
    if ctx.readiness is None:
        raise LookupError("no readiness facts")
    return ctx.readiness


def _mon(ctx: PostureContext) -> MonitoringFacts:
    if ctx.monitoring is None:
        raise LookupError("no monitoring facts")
    return ctx.monitoring


_AUDIT_SOURCES = {"microsoft365": {"entra", "m365", "microsoft365"}}
