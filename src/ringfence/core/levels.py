"""Data classification levels: public < internal < confidential < restricted.

Kept free of any storage or web dependency so every capability (classify, gateway, posture,
vendors) can compare levels without importing the store.
"""

from __future__ import annotations

from enum import IntEnum

from ringfence.core.errors import ValidationError


class DataClass(IntEnum):
    """Ordered sensitivity of data; a higher value is more sensitive."""

    PUBLIC = 0
    INTERNAL = 1
    CONFIDENTIAL = 2
    RESTRICTED = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str | int | DataClass) -> DataClass:
        """Parse ``"confidential"``, ``2`` or a DataClass; a clear error otherwise."""
        if isinstance(value, DataClass):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                return cls(value)
            except ValueError:
                pass
        elif isinstance(value, str):
            try:
                return cls[value.strip().upper()]
            except KeyError:
                pass
        allowed = ", ".join(c.label for c in cls)
        raise ValidationError(f"unknown data class {value!r}; expected one of: {allowed}")

    def __str__(self) -> str:
        return self.label


def highest(levels: list[DataClass] | tuple[DataClass, ...] | set[DataClass]) -> DataClass:
    """The most sensitive level of ``levels`` (public for none)."""
    return max(levels, default=DataClass.PUBLIC)
