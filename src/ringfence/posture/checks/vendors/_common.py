"""Helpers shared by the vendors checks (pure functions of the context, no I/O)."""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.core.levels import DataClass
from ringfence.posture.context import AppFact, PostureContext, VendorFact


def _exposure(ctx: PostureContext) -> dict[str, DataClass]:
    """Most sensitive class each vendor's apps are cleared for / hold (cached per context)."""
    cached = ctx.__dict__.get("_vendor_exposure")
    if cached is None:
        cached = {}
        for a in ctx.apps:
            level = max([a.clearance, *(_LEVELS.get(c, DataClass.PUBLIC) for c in a.data_classes)])
            if level > cached.get(a.vendor, DataClass.PUBLIC):
                cached[a.vendor] = level
        ctx.__dict__["_vendor_exposure"] = cached
    return cached


_LEVELS = {c.label: c for c in DataClass}


def _vendors_in_use(ctx: PostureContext) -> Iterator[tuple[VendorFact, list[AppFact]]]:
    apps_by_vendor = ctx.apps_by_vendor
    for v in ctx.vendors or ():
        if v.name in apps_by_vendor:
            yield v, apps_by_vendor[v.name]
