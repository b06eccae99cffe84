"""Redaction: rewrite a payload so detected values are masked, tokenised or removed.

The output keeps its format: JSON stays valid JSON (a value that was an integer becomes a
string, a removed whole value becomes ``null``), CSV stays CSV, form bodies stay form-encoded.
Redaction never logs a value and never leaves one in the output for a confident finding.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson

from ringfence.classify._engine import Analysis, Classifier
from ringfence.classify._hits import Hit
from ringfence.classify._mask import mask, token
from ringfence.classify._model import RedactionMode, ScanResult
from ringfence.core.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Redaction:
    body: bytes
    result: ScanResult
    redacted: int


@dataclass(frozen=True, slots=True)
class RedactionPolicy:
    """Default mode, per-type overrides, and the HMAC key for ``tokenize``."""

    default: RedactionMode = RedactionMode.MASK
    per_type: Mapping[str, RedactionMode] | None = None
    token_key: bytes | None = None
    min_confidence: float | None = None

    def mode_for(self, type_id: str) -> RedactionMode:
        if self.per_type and type_id in self.per_type:
            return self.per_type[type_id]
        return self.default


def _replacement(policy: RedactionPolicy, h: Hit, value: str) -> str:
    mode = policy.mode_for(h.det.id)
    if mode is RedactionMode.TOKENIZE:
        if not policy.token_key:
            raise ConfigError("tokenize redaction needs a token_key", code="classify_no_token_key")
        return token(policy.token_key, h.det.id, value)
    if mode is RedactionMode.REMOVE:
        return ""
    if mode is RedactionMode.LABEL:
        return f"[REDACTED:{h.det.id}]"
    return mask(h.det, value)


def _rewrite(text: str, hits: list[Hit], policy: RedactionPolicy) -> tuple[str, bool]:
    """Apply hits (one leaf) right to left; report whether the whole text was removed."""
    out = text
    whole_removed = False
    for h in sorted(hits, key=lambda h: h.start, reverse=True):
        rep = _replacement(policy, h, text[h.start : h.end])
        out = out[: h.start] + rep + out[h.end :]
        if rep == "" and h.start == 0 and h.end == len(text):
            whole_removed = True
    return out, whole_removed


def _set_path(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    node = doc
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return doc


def redact(
    classifier: Classifier,
    body: bytes | str,
    content_type: str | None = None,
    policy: RedactionPolicy | None = None,
) -> Redaction:
    """Scan ``body`` and return it rewritten with every confident finding redacted."""
    policy = policy or RedactionPolicy()
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else bytes(body)
    an = classifier.analyze(data, content_type, whole=True)
    result = classifier.result(an)
    floor = classifier.min_confidence if policy.min_confidence is None else policy.min_confidence
    by_leaf: dict[int, list[Hit]] = defaultdict(list)
    for h in an.hits:
        if h.confidence >= floor:
            by_leaf[h.leaf].append(h)
    if not by_leaf:
        return Redaction(data, result, 0)
    count = sum(len(v) for v in by_leaf.values())
    return Redaction(_rebuild(an, by_leaf, policy), result, count)


def _rebuild(an: Analysis, by_leaf: dict[int, list[Hit]], policy: RedactionPolicy) -> bytes:
    new: dict[int, Any] = {}
    for li, hits in by_leaf.items():
        text, gone = _rewrite(an.leaves[li].text, hits, policy)
        new[li] = None if gone and an.kind in ("json", "ndjson") else text
    if an.kind == "json":
        doc = an.doc
        for li, val in new.items():
            doc = _set_path(doc, an.leaves[li].path, val)
        return orjson.dumps(doc)
    if an.kind == "ndjson":
        docs: list[Any] = an.doc
        for li, val in new.items():
            leaf = an.leaves[li]
            line = int(leaf.path[0])
            if leaf.ref:  # a line that was not JSON: plain text
                docs[line] = "" if val is None else val
            else:
                docs[line] = _set_path(docs[line], leaf.path[1:], val)
        lines = [
            "" if d is None else d if isinstance(d, str) and _is_text_line(an, i) else
            orjson.dumps(d).decode()
            for i, d in enumerate(docs)
        ]  # fmt: skip
        return "\n".join(lines).encode()
    if an.kind == "csv":
        rows: list[list[str]] = an.doc
        for li, val in new.items():
            r, c = an.leaves[li].ref
            rows[r][c] = val or ""
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        return buf.getvalue().encode()
    if an.kind == "form":
        pairs: list[tuple[str, str]] = list(an.doc)
        for li, val in new.items():
            (i,) = an.leaves[li].ref
            pairs[i] = (pairs[i][0], val or "")
        return urlencode(pairs, safe="*").encode()
    return (new.get(0) or "").encode() if an.leaves else b""


def _is_text_line(an: Analysis, line: int) -> bool:
    return any(leaf.ref == (line,) for leaf in an.leaves)
