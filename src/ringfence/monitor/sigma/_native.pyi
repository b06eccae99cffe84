# Type stub for the C extension built from csrc/sigma/_native.c (see monitor/sigma/native.py).
from collections.abc import Callable
from typing import Any

class Plan:
    """One compiled plan: (fields, blocks, view_type) as built by ``native.program``."""

    spec: tuple[Any, ...]
    def __init__(self, spec: tuple[Any, ...], /) -> None: ...
    def run(self, ocsf: Any, raw: Any, /) -> list[Any] | None: ...

class Matcher:
    """match(event) -> rules: dispatch by product then service, the plan in C, else
    ``fallback(event)``."""

    def __init__(
        self,
        resolve: Callable[[str, str], Any],
        fallback: Callable[[Any], list[Any]],
        max_sources: int,
        /,
    ) -> None: ...
    def __call__(self, event: Any, /) -> list[Any]: ...
    def forget(self) -> None: ...
    def sizes(self) -> dict[Any, int]: ...
