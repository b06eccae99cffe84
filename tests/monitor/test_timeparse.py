"""Time arguments of `hunt`, `alerts` and the API: good forms parse, bad ones name the problem."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ringfence.core.errors import ValidationError
from ringfence.monitor.timeparse import parse_when

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("15m", NOW - timedelta(minutes=15)),
        ("24h", NOW - timedelta(hours=24)),
        ("2w", NOW - timedelta(weeks=2)),
        ("2026-01-05T09:00:00Z", datetime(2026, 1, 5, 9, tzinfo=UTC)),
        ("2026-01-05T09:00:00", datetime(2026, 1, 5, 9, tzinfo=UTC)),
    ],
)
def test_good_times_parse(value: str, expected: datetime) -> None:
    assert parse_when(value, NOW) == expected


@pytest.mark.parametrize("value", ["99999999999d", "yesterday", "7 days", "", "2026-13-01"])
def test_bad_times_name_the_problem(value: str) -> None:
    with pytest.raises(ValidationError, match="bad since"):
        parse_when(value, NOW, "since")
