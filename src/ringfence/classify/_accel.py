"""Whether the classification engine uses its native hot path (``_native``, built from C).

The extension is optional: when it is missing (no C compiler at install time, another
platform) or ``RINGFENCE_CLASSIFY_NATIVE=0`` is set, the engine runs its pure-Python path,
which decides exactly the same (tests/classify/test_native.py holds both to the same findings).
"""

from __future__ import annotations

import os
from types import ModuleType

ENV = "RINGFENCE_CLASSIFY_NATIVE"
_OFF = frozenset({"0", "false", "no", "off"})


def load_native() -> ModuleType | None:
    """The ``_native`` module, or None when it is unavailable or switched off."""
    if os.environ.get(ENV, "").strip().lower() in _OFF:
        return None
    try:
        from ringfence.classify import _native
    except ImportError:
        return None
    return _native


NATIVE: ModuleType | None = load_native()
