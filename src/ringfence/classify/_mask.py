"""Masked previews, format-preserving masks and keyed tokens for detected values.

A preview or mask must never reproduce the raw value: at most the last four characters of a
long identifier, the domain of an email, or the public fixed prefix of a token survive.
Tokens are HMAC-SHA256 under a caller-supplied key, so equal values give equal tokens (joins
still work) without the value being recoverable. A finding's path names payload keys, which
may themselves be data (a map keyed by e-mail): ``masked_path`` masks those for output.
Nothing here logs or stores a value.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ringfence.classify._accel import NATIVE
from ringfence.classify._model import Detector, ScanResult

# The native masks (same results, see tests/classify/test_native.py), when built.
_native_mask_alnum: Callable[[str, int, int], str] | None = None
_native_mask_from: Callable[[str, int], str] | None = None
_native_preview: Callable[[str, int, int, str], str] | None = None
if NATIVE is not None:
    _native_mask_alnum, _native_mask_from = NATIVE.mask_alnum, NATIVE.mask_from
    _native_preview = NATIVE.preview

PREVIEW_MAX = 24
_NOT_ALNUM = re.compile(r"[\W_]+")
_MASK = "*"


def _mask_alnum(value: str, keep_tail: int = 0, keep_head: int = 0) -> str:
    if _native_mask_alnum is not None and keep_tail >= 0 and keep_head >= 0:
        return _native_mask_alnum(value, keep_tail, keep_head)
    return mask_alnum_py(value, keep_tail, keep_head)


def mask_alnum_py(value: str, keep_tail: int = 0, keep_head: int = 0) -> str:
    positions = [i for i, c in enumerate(value) if c.isalnum()]
    if keep_tail and len(positions) < 2 * keep_tail:  # too short to show a tail safely
        keep_tail = 0
    if keep_head >= len(positions):
        keep_head = 0
    hidden = positions[keep_head : len(positions) - keep_tail]
    chars = list(value)
    for i in hidden:
        chars[i] = _MASK
    return "".join(chars)


def mask(detector: Detector, value: str) -> str:
    """Format-preserving mask: same length and separators, sensitive characters starred."""
    style = detector.mask
    if style == "last4":
        return _mask_alnum(value, keep_tail=4)
    if style == "email":
        local, at, domain = value.rpartition("@")
        if not at:
            return _mask_alnum(value)
        head = local[:1] if len(local) > 2 else ""
        return head + _MASK * (len(local) - len(head)) + "@" + domain
    if style == "prefix" and detector.keep_prefix:
        keep = min(detector.keep_prefix, len(value) // 2)
        if _native_mask_from is not None and keep >= 0:
            return _native_mask_from(value, keep)
        return mask_from_py(value, keep)
    return _mask_alnum(value)


def mask_from_py(value: str, keep: int) -> str:
    return value[:keep] + "".join(_MASK if c.isalnum() else c for c in value[keep:])


def preview(detector: Detector, value: str) -> str:
    """A short masked rendering safe to show in findings, logs and events."""
    if _native_preview is not None and detector.keep_prefix >= 0:
        # the same mask and cut in one native call (one per finding)
        return _native_preview(detector.mask, detector.keep_prefix, PREVIEW_MAX, value)
    return preview_py(detector, value)


def preview_py(detector: Detector, value: str) -> str:
    masked = mask(detector, value)
    if len(masked) <= PREVIEW_MAX:
        return masked
    if detector.mask == "last4":
        return "…" + masked[-(PREVIEW_MAX - 1) :]
    return masked[: PREVIEW_MAX - 1] + "…"


def canonical(value: str) -> str:
    """Separator- and case-insensitive form used for allow-lists and tokens."""
    if "@" in value:
        return value.strip().lower()
    # ``[\W_]`` is exactly "not str.isalnum()" for str patterns (\w = isalnum() or "_").
    return _NOT_ALNUM.sub("", value).upper() or value


def token(key: bytes, type_id: str, value: str) -> str:
    """Stable keyed token: ``tok_<type>_<hmac hex>``; equal values give equal tokens."""
    digest = hmac.new(key, f"{type_id}\x00{canonical(value)}".encode(), hashlib.sha256)
    return f"tok_{type_id}_{digest.hexdigest()[:24]}"


def fingerprint(value: str) -> str:
    """Unkeyed SHA-256 of the canonical value, used only for allow-list membership."""
    return hashlib.sha256(canonical(value).encode()).hexdigest()


def masked_path(
    parts: tuple[str | int, ...], scan_text: Callable[[str], Any], cache: dict[str, str]
) -> tuple[str | int, ...] | None:
    """A finding's path with every key that itself holds a detected value masked, or None when
    no key does. Paths name the keys of the payload (``$["alice@corp.example"].ssn``): a map
    keyed by e-mail address must not put the address in clear into a finding's output."""
    out: list[str | int] = []
    changed = False
    for p in parts:
        if isinstance(p, str) and p:
            shown = cache.get(p)
            if shown is None:
                shown = _masked_key(p, scan_text)
                if len(cache) < 4096:
                    cache[p] = shown
            changed = changed or shown != p
            out.append(shown)
        else:
            out.append(p)
    return tuple(out) if changed else None


def _masked_key(key: str, scan_text: Callable[[str], Any]) -> str:
    findings = scan_text(key).findings
    if not findings:
        return key
    if not key.isascii():  # offsets refer to the NFKC form: hide the whole key
        return _MASK * len(key)
    chars = list(key)
    for f in findings:
        span = f.end - f.start
        rep = f.preview if len(f.preview) == span else _MASK * span
        chars[f.start : f.end] = list(rep)
    return "".join(chars)


def mask_result_paths(result: ScanResult, scan_text: Callable[[str], Any]) -> ScanResult:
    """``result`` with the paths of its findings masked where a key holds a detected value."""
    from ringfence.classify._extract import format_path

    cache: dict[str, str] = {}
    findings = []
    changed = False
    for f in result.findings:
        parts = masked_path(f.path_parts, scan_text, cache)
        if parts is None:
            findings.append(f)
        else:
            findings.append(replace(f, path=format_path(parts), path_parts=parts))
            changed = True
    return replace(result, findings=tuple(findings)) if changed else result
