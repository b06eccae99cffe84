# Type stub for the C extension built from csrc/gateway/_fastpath.c.
from typing import Any

class Table:
    def __init__(
        self,
        routes: list[tuple[Any, ...]],
        cert_header: bytes,
        max_header_bytes: int,
        max_query_bytes: int,
        leeway: int,
        max_grants: int,
    ) -> None: ...
    def plan(
        self,
        method: str,
        raw_path: bytes,
        query: bytes,
        headers: list[tuple[bytes, bytes]],
        now: float,
        /,
    ) -> tuple[Any, ...] | None: ...
    def remember(self, token: bytes, exp: int, allowed: bytes, grant: Any, /) -> bool: ...
    def knows(self, token: bytes, /) -> bool: ...
    def grants(self) -> int: ...

def response_head(
    status_line: bytes,
    default_headers: list[tuple[bytes, bytes]],
    headers: Any,
    /,
) -> tuple[bytes, int] | None: ...
def iso_utc(dt: Any, /) -> str | None: ...
def audit_line(
    time: str,
    request_id: str,
    method: str,
    status: int,
    decision: str,
    reason: str,
    latency_ms: float,
    client_ip: str | None,
    user_agent: str | None,
    integration: str | None,
    integration_id: str | None,
    client_id: str | None,
    auth: str,
    route: str | None,
    path_template: str | None,
    path: str | None,
    upstream: str | None,
    bytes_in: int,
    bytes_out: int,
    dlp: dict[str, Any],
    /,
) -> bytes | None: ...
def request_id() -> str | None: ...
def parse_request(
    data: bytes, max_head: int, max_body: int, /
) -> tuple[str, bytes, bytes, list[tuple[bytes, bytes]], bytes, bool] | None: ...
def parse_response(
    data: bytes, cap: int, /
) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool] | None: ...
