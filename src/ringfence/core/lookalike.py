"""Look-alike names: the UTS #39 skeleton, and the key posture compares app names by.

``skeleton`` is Unicode's (UTS #39 §4): NFD, every character replaced by its prototype from
``confusables.txt``, NFD again — two strings with the same skeleton look alike (U+0430
CYRILLIC SMALL LETTER A and Latin ``a``, ``I`` and ``l``, ``0`` and ``O``, ``m`` and ``rn``).
``name_key`` goes further for app names, where case, spacing and punctuation do not make a
different app: skeleton, case folded, skeleton again, letters and digits only.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from importlib.resources import files


@cache
def _prototypes() -> dict[str, str]:
    table: dict[str, str] = {}
    text = files("ringfence.core").joinpath("confusables.txt").read_text("utf-8")
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        source, target = line.split(";")
        table[chr(int(source, 16))] = "".join(chr(int(cp, 16)) for cp in target.split())
    return table


def skeleton(text: str) -> str:
    table = _prototypes()
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFD", "".join(table.get(c, c) for c in decomposed))


def name_key(name: str) -> str:
    """What two app names are compared by: equal keys, names a reader takes for the same."""
    folded = skeleton(skeleton(name).casefold())
    return "".join(c for c in folded if unicodedata.category(c)[0] in "LN")
