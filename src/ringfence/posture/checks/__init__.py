"""The checks catalogue: one module per check, grouped in one package per area.

Importing this package imports every check module, which registers it (``@check``).
"""

from __future__ import annotations

import importlib
import pkgutil


def _load_all() -> None:
    for info in pkgutil.walk_packages(__path__, prefix=f"{__name__}."):
        importlib.import_module(info.name)


_load_all()
