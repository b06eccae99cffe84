"""Time arguments of monitoring commands: ISO 8601 instants or `15m` / `24h` / `7d` ago."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ringfence.core.errors import ValidationError

_REL = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_when(value: str, now: datetime, what: str = "time") -> datetime:
    text = value.strip()
    m = _REL.match(text)
    if m:
        try:
            return now - timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])
        except OverflowError:
            raise ValidationError(
                f"bad {what} {value!r}: a duration reaches back before year 1"
            ) from None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(
            f"bad {what} {value!r}: use ISO 8601 (2026-01-05T09:00:00Z) or a duration like 24h, 7d"
        ) from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
