"""Vendor audit-record parsers, one module per source, registered by source name.

Each parser takes one decoded JSON record and returns the Events it yields (a Google
Workspace activity yields one per entry of ``events[]``), or raises ``RecordError``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ringfence.core.errors import ValidationError
from ringfence.monitor.events import Event
from ringfence.monitor.parsers import entra, gateway, github, google_workspace, m365, okta, slack
from ringfence.monitor.parsers._common import RecordError

Parser = Callable[[Any], list[Event]]

PARSERS: dict[str, Parser] = {
    "okta": okta.parse,
    "github": github.parse,
    "google_workspace": google_workspace.parse,
    "m365": m365.parse,
    "entra": entra.parse,
    "slack": slack.parse,
    "ringfence": gateway.parse,
}


def parser_for(source: str) -> Parser:
    try:
        return PARSERS[source]
    except KeyError:
        raise ValidationError(
            f"unknown source {source!r}; expected one of: {', '.join(sorted(PARSERS))}"
        ) from None


__all__ = ["PARSERS", "Parser", "RecordError", "parser_for"]
