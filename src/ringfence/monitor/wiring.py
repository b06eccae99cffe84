"""Builds the monitor of a runtime: storage plus the analysers configured for it.

Kept separate from ``service`` so the pipeline itself stays free of configuration lookups.
"""

from __future__ import annotations

from ringfence.monitor.service import Monitor
from ringfence.runtime import Runtime


def build_monitor(rt: Runtime) -> Monitor:
    return Monitor(rt.store, rt.clock)
