"""The one place a Responder gets its process configuration: the sinks of
``<data_dir>/monitor.yaml``, the connectors of a ``connectors.yaml``, and the data directory
(whose monitor.yaml sinks' vault entries a rotation must not write over)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ringfence.respond.engine import Responder
from ringfence.runtime import Runtime


def responder_for(
    rt: Runtime,
    connectors_file: Path | None = None,
    *,
    on_error: Callable[[str, Exception], None] | None = None,
) -> Responder:
    """A Responder over ``rt`` with the configured sinks and connectors (``connectors_file``,
    else ``RINGFENCE_CONNECTORS_FILE``). A bad file raises, unless ``on_error`` is given: then
    it is told (``"sinks"`` / ``"connectors"``) and that part is left empty — for long-running
    processes that must not stop for it."""
    from ringfence.monitor.wiring import configured_sinks

    sinks: dict[str, Any] = {}
    try:
        sinks = configured_sinks(rt)
    except Exception as exc:
        if on_error is None:
            raise
        on_error("sinks", exc)
    connectors: dict[str, Any] = {}
    path = connectors_file or rt.settings.connectors_file
    if path is not None:
        from ringfence.connectors import load_connector_configs

        try:
            connectors = {c.vendor: c for c in load_connector_configs(path)}
        except Exception as exc:
            if on_error is None:
                raise
            on_error("connectors", exc)
    return Responder(
        rt.store,
        rt.vault,
        rt.clock,
        sinks=sinks,
        connectors=connectors,
        data_dir=rt.settings.data_dir,
    )
