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


def _total(parse: Parser) -> Parser:
    """``parse`` that answers any record with events or ``RecordError``: a parser bug an odd
    record triggers (a TypeError on a list where an object was expected) is that record's
    problem — dead-lettered with the reason — not an error that stops a whole import, fails a
    push, or sticks in the gateway's spool, replayed and refused for ever ahead of the rest."""

    def guarded(record: Any) -> list[Event]:
        try:
            return parse(record)
        except RecordError:
            raise
        except (
            TypeError,
            ValueError,
            KeyError,
            IndexError,
            AttributeError,
            OverflowError,
            RecursionError,
        ) as exc:
            raise RecordError(
                f"malformed record ({type(exc).__name__}: {str(exc)[:200]})"
            ) from None

    guarded.__name__ = getattr(parse, "__name__", "parse")
    guarded.__doc__ = parse.__doc__
    return guarded


PARSERS: dict[str, Parser] = {
    "okta": _total(okta.parse),
    "github": _total(github.parse),
    "google_workspace": _total(google_workspace.parse),
    "m365": _total(m365.parse),
    "entra": _total(entra.parse),
    "slack": _total(slack.parse),
    "ringfence": _total(gateway.parse),
}


def parser_for(source: str) -> Parser:
    try:
        return PARSERS[source]
    except KeyError:
        raise ValidationError(
            f"unknown source {source!r}; expected one of: {', '.join(sorted(PARSERS))}"
        ) from None


__all__ = ["PARSERS", "Parser", "RecordError", "parser_for"]
