"""Rendering for the CLI: Rich tables on a terminal, ``--output json`` for machines.

Much of what is printed comes from outside (app and grant names from SaaS tenants, fields of
audit-log records): it never reaches the terminal as a control sequence. Every string the
shared consoles render has its terminal controls shown as visible escapes (``\\x1b``), so a
name cannot clear the screen, erase or rewrite earlier lines, plant an OSC 8 hyperlink or an
OSC 52 clipboard write, or reorder what is shown with a bidi override.
"""

from __future__ import annotations

import enum
import re
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from rich.console import Console
from rich.markup import escape
from rich.table import Table

# C0 controls but TAB and LF, DEL, C1 (8-bit CSI / OSC ...), and the bidi marks, embeddings,
# overrides and isolates (Trojan Source).
_TERMINAL_CONTROL = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def printable(text: str) -> str:
    """``text`` with every terminal control written as a visible escape (``\\x1b``)."""
    return _TERMINAL_CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


class _Console(Console):
    """A Rich console that never sends a control character from the text it is given: every
    string (a ``print`` argument, a table cell) passes through ``render_str``. Rich itself keeps
    ESC, CSI and OSC in text (it strips only BEL, BS, VT, FF and CR)."""

    def render_str(self, text: str, **kwargs: Any) -> Any:
        return super().render_str(printable(text), **kwargs)


console: Console = _Console()
err_console: Console = _Console(stderr=True)


class OutputFormat(enum.StrEnum):
    TABLE = "table"
    JSON = "json"


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def emit_json(data: Any) -> None:
    sys.stdout.write(
        orjson.dumps(data, default=_default, option=orjson.OPT_INDENT_2).decode() + "\n"
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(str(v) for v in value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


def emit_table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    *,
    title: str | None = None,
    fmt: OutputFormat = OutputFormat.TABLE,
) -> None:
    if fmt is OutputFormat.JSON:
        emit_json(list(rows))
        return
    if len(rows) == 1 and len(columns) > 5:
        # One record reads better as key/value pairs than as a squeezed wide table.
        kv = Table(title=title, show_header=False)
        kv.add_column("field", style="bold")
        kv.add_column("value")
        for col in columns:
            kv.add_row(col.replace("_", " "), escape(_cell(rows[0].get(col))))
        console.print(kv)
        return
    table = Table(title=title, show_lines=False, header_style="bold")
    for col in columns:
        table.add_column(col.replace("_", " "))
    for row in rows:
        table.add_row(*(escape(_cell(row.get(c))) for c in columns))
    console.print(table)


def fail(message: str, code: int = 1) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise SystemExit(code)
