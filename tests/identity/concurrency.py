"""Run test bodies in threads released at the same moment (races against the store)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def run_together(n: int, body: Callable[[int, Callable[[], Any]], Any]) -> list[Any]:
    """``body(i, go)`` in ``n`` threads; each calls ``go()`` once its set-up is done and all
    continue from there at once. Returns the bodies' results in the order they finished."""
    barrier, out = threading.Barrier(n), []
    threads = [
        threading.Thread(target=lambda i=i: out.append(body(i, barrier.wait))) for i in range(n)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out
