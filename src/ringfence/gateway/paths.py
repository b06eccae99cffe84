"""Request path canonicalisation and route/operation matching for the gateway hot path.

Paths are canonicalised *before* matching: percent-encoding is decoded exactly once, and any
trick that could make the gateway and the upstream disagree about the path is refused
(encoded slashes or backslashes, double encoding, dot segments, empty segments, control
characters). The forwarded path is the re-encoded canonical path, never the raw input.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

_SAFE = "-._~!$&'()*+,;=:@"
MAX_PATH = 2048


class PathRejected(Exception):
    """The path is malformed or ambiguous; the gateway answers 400."""


def canonical_path(raw: str) -> tuple[str, ...]:
    """Return the decoded path segments of ``raw`` (the undecoded request target path)."""
    if not raw.startswith("/") or len(raw) > MAX_PATH:
        raise PathRejected("path must start with '/' and be at most 2048 characters")
    if raw == "/":
        return ()
    body = raw[1:]
    if body.endswith("/"):
        body = body[:-1]
    if "%" not in raw and "\\" not in raw:
        segs = tuple(body.split("/"))
        for seg in segs:
            if seg in ("", ".", "..") or not seg.isprintable():
                raise PathRejected("empty or dot segment in path")
        return segs
    out: list[str] = []
    for raw_seg in body.split("/"):
        lowered = raw_seg.lower()
        if "%2f" in lowered or "%5c" in lowered or "\\" in raw_seg:
            raise PathRejected("encoded slash or backslash in path")
        try:
            seg = unquote(raw_seg, errors="strict")
        except UnicodeDecodeError:
            raise PathRejected("path is not valid UTF-8 after decoding") from None
        if "%" in seg:
            raise PathRejected("double percent-encoding in path")
        if seg in ("", ".", "..") or not seg.isprintable():
            raise PathRejected("empty or dot segment in path")
        out.append(seg)
    return tuple(out)


def encode_segments(segs: tuple[str, ...]) -> str:
    """Re-encode canonical segments into the path sent upstream."""
    return "".join("/" + quote(s, safe=_SAFE) for s in segs)


def template_segments(template: str) -> tuple[str | None, ...]:
    """``/a/{id}/b`` → ("a", None, "b"): None marks a parameter."""
    if template == "/":
        return ()
    return tuple(None if s.startswith("{") else s for s in template[1:].split("/"))


def template_params(template: str) -> tuple[str, ...]:
    if template == "/":
        return ()
    return tuple(s[1:-1] for s in template[1:].split("/") if s.startswith("{"))
