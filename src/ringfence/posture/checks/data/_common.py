"""Helpers shared by the data checks (pure functions of the context, no I/O)."""

from __future__ import annotations

from functools import lru_cache

from ringfence.core.levels import DataClass

_LEVELS = {c.label: c for c in DataClass}


@lru_cache(maxsize=4096)
def _level(classes: tuple[str, ...]) -> DataClass:
    """Most sensitive known class of ``classes`` (unknown labels count as public)."""
    return max((_LEVELS.get(c, DataClass.PUBLIC) for c in classes), default=DataClass.PUBLIC)
