"""A service URL as it may appear in a message or a log line: without its credentials."""

from __future__ import annotations

from urllib.parse import urlsplit


def without_credentials(url: str, *, default_scheme: str, what: str, keep_path: bool) -> str:
    """``url`` without the user, password or token before ``@`` (``scheme://user:pw@host``,
    ``scheme://token@host``): scheme, host, port and, with ``keep_path``, the path. A URL that
    does not parse is replaced by ``<the configured {what} URL>``, never quoted."""
    try:
        parts = urlsplit(url if "://" in url else f"{default_scheme}://{url}")
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return f"<the configured {what} URL>"
    if "[" in parts.netloc:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}{parts.path if keep_path else ''}"
