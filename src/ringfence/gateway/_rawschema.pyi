# Type stub for the C extension built from csrc/gateway/_rawschema.c.
from collections.abc import Sequence
from typing import Any

class Program:
    def __init__(self, nodes: Sequence[tuple[Any, ...]]) -> None: ...
    def valid(self, body: bytes, max_depth: int, max_items: int, max_string: int, /) -> bool: ...
