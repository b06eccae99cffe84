"""Helpers shared by the vendor record parsers: typed field access and timestamp parsing.

A parser must never guess silently: a record missing what the vendor format promises raises
``RecordError`` with a reason naming the field, and the caller dead-letters it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

T = TypeVar("T")


class RecordError(ValueError):
    """A record that does not have the vendor's documented shape."""


def obj(record: Any, what: str = "record") -> dict[str, Any]:
    if not isinstance(record, dict):
        raise RecordError(f"{what} must be a JSON object, got {type(record).__name__}")
    return record


def req_str(d: dict[str, Any], key: str) -> str:
    value = d.get(key)
    if not isinstance(value, str) or not value:
        raise RecordError(f"missing or non-string field {key!r}")
    return value


def opt_str(d: Any, *path: str) -> str | None:
    cur: Any = d
    for key in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(key)
    if cur is None or cur == "":
        return None
    return str(cur) if isinstance(cur, str | int | float) else None


def opt_dict(d: dict[str, Any], key: str) -> dict[str, Any]:
    value = d.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RecordError(f"field {key!r} must be an object")
    return value


def opt_list(d: dict[str, Any], key: str) -> list[Any]:
    value = d.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordError(f"field {key!r} must be a list")
    return value


def parse_time(value: Any, field: str) -> datetime:
    """ISO 8601 (with or without zone; naive means UTC) or epoch seconds / milliseconds."""
    if isinstance(value, bool) or value is None:
        raise RecordError(f"missing timestamp {field!r}")
    try:
        if isinstance(value, int | float):
            seconds = value / 1000.0 if value > 1e11 else float(value)
            return datetime.fromtimestamp(seconds, UTC)
        if isinstance(value, str):
            text = value.strip()
            if text.endswith("Z"):
                text = text[:-1] + "+00:00"
            # Python < 3.11 compat is not needed, but trim >6 fractional digits (Graph uses 7).
            if "." in text:
                head, _, rest = text.partition(".")
                digits = ""
                i = 0
                while i < len(rest) and rest[i].isdigit():
                    digits += rest[i]
                    i += 1
                text = f"{head}.{digits[:6].ljust(6, '0')}{rest[i:]}"
            t = datetime.fromisoformat(text)
            return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise RecordError(f"unparseable timestamp in {field!r}: {str(value)[:40]!r}")


def outcome_status(ok: bool | None) -> int:
    if ok is None:
        return 0
    return 1 if ok else 2


def sub(d: Any, key: str) -> dict[str, Any]:
    """``d[key]`` when it is an object, else an empty dict (optional nested objects)."""
    value = d.get(key) if isinstance(d, dict) else None
    return value if isinstance(value, dict) else {}
