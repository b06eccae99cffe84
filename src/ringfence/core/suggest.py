"""The "did you mean" hint for a name nobody reads (a misspelt setting, key or option).

One place decides what counts as close (difflib's ratio, 0.6 by default) so every config
reader suggests the same way. Never given a secret: callers pass key names, not values.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(name: str, known: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """The known name nearest to ``name``, or None when none is near enough."""
    near = difflib.get_close_matches(name, sorted(known), n=1, cutoff=cutoff)
    return near[0] if near else None


def did_you_mean(name: str, known: Iterable[str], *, quote: bool = False) -> str:
    """`` (did you mean X?)`` for the known name nearest to ``name``, or ``""``.

    ``quote`` writes the suggestion as a Python repr (``'page_size'``), for messages that
    quote the unknown name the same way."""
    near = closest(name, known)
    if near is None:
        return ""
    return f" (did you mean {near!r}?)" if quote else f" (did you mean {near}?)"
