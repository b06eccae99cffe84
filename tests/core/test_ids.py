"""Identifiers are canonical UUIDv7 text, unique and ordered by creation time."""

from __future__ import annotations

import time
import uuid

from ringfence.core.ids import new_id


def test_ids_are_canonical_uuid7_text() -> None:
    for _ in range(2000):
        text = new_id()
        parsed = uuid.UUID(text)
        assert str(parsed) == text  # lower-case hex, 8-4-4-4-12
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122


def test_ids_carry_their_creation_millisecond_and_sort_by_it() -> None:
    before = time.time_ns() // 1_000_000
    first = new_id()
    time.sleep(0.002)
    second = new_id()
    after = time.time_ns() // 1_000_000
    ms = uuid.UUID(first).int >> 80
    assert before <= ms <= after
    assert first < second


def test_ids_do_not_repeat() -> None:
    ids = [new_id() for _ in range(50_000)]
    assert len(set(ids)) == len(ids)
