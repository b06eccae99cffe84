"""Redaction: rewrite a payload so detected values are masked, tokenised or removed.

The output keeps its format: JSON stays valid JSON (a value that was an integer becomes a
string, a removed whole value becomes ``null``), CSV stays CSV, form bodies stay form-encoded.
Redaction never logs a value and never leaves one in the output for a confident finding: every
other copy of a found value in the body (another field, a key, the same digits written with
other separators) is redacted too, and a JSON body is written back from what was scanned, so
nothing the scan did not read (the first of two duplicate keys) passes through.
"""

from __future__ import annotations

import csv
import io
import json
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import orjson
import re2

from ringfence.classify._engine import Analysis, Classifier
from ringfence.classify._extract import DROPPED_REF, KEY_REF, Leaf, kind_of, normalize, scrub
from ringfence.classify._hits import Hit
from ringfence.classify._mask import mask, token
from ringfence.classify._model import RedactionMode, ScanResult
from ringfence.core.errors import ConfigError

#: A found value shorter than this is not looked for elsewhere in the body (too many
#: accidental matches); its own span is still redacted.
MIN_COPY_LEN = 4
#: Values with this many letters/digits or fewer are also looked for with other separators
#: between them (``536-90-4399`` and ``536904399``, a card with or without spaces).
FLEX_MAX = 64
_FLEX_MIN = 6
_COPY_BATCH = 1000  # alternatives per RE2 pattern (bounded DFA memory)
_RE2 = re2.Options()
_RE2.log_errors = False
_RE2.max_mem = 64 << 20


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
    token_key: bytes | None = field(default=None, repr=False)  # never in a repr or a log
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
    """Apply hits (one leaf); report whether the whole text was removed.

    Overlapping spans (a copy of a value inside a finding's span) are redacted as their
    union, with the first hit's mode, so no character of either survives."""
    spans: list[tuple[int, int, Hit]] = []
    for h in sorted(hits, key=lambda h: (h.start, -h.end)):
        if spans and h.start < spans[-1][1]:
            s, e, first = spans[-1]
            spans[-1] = (s, max(e, h.end), first)
        else:
            spans.append((h.start, h.end, h))
    out = text
    whole_removed = False
    for s, e, h in reversed(spans):
        rep = _replacement(policy, h, text[s:e])
        out = out[:s] + rep + out[e:]
        if rep == "" and s == 0 and e == len(text):
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
    if policy.token_key is not None and not isinstance(policy.token_key, bytes | bytearray):
        # (a str key would fail inside hmac with a TypeError: a configuration mistake)
        raise ConfigError("token_key must be bytes", code="classify_token_key")
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else bytes(body)
    an = classifier.analyze(data, content_type, whole=True)
    strict = (
        _strict_body(data, content_type, an)
        if len(data) <= classifier.max_structured_bytes
        else None
    )
    if strict is not None:  # JSON orjson refused but other parsers read: scan what they read
        data = strict
        an = classifier.analyze(data, content_type, whole=True)
    result = classifier.result(an)
    floor = classifier.min_confidence if policy.min_confidence is None else policy.min_confidence
    by_leaf: dict[int, list[Hit]] = defaultdict(list)
    for h in an.hits:
        if h.confidence >= floor:
            by_leaf[h.leaf].append(h)
    if not by_leaf:
        if an.parsed and an.kind in ("json", "ndjson") and _has_duplicate_keys(an.kind, data):
            # the scan read the last of two equal keys; a reader that takes the first must
            # not get that one unread: write back what was scanned
            return Redaction(_rebuild(an, {}, policy, _Copies()), result, 0)
        return Redaction(data, result, 0)
    # (a deep document's raw text, scanned besides its leaves, repeats their findings)
    found = sum(len(v) for li, v in by_leaf.items() if an.leaves[li].ref != DROPPED_REF)
    copies = _copies(an, by_leaf)
    return Redaction(_rebuild(an, by_leaf, policy, copies), result, found + copies.count)


# -- every copy of a found value -------------------------------------------------------------


@dataclass(slots=True)
class _Copies:
    """Where found values occur again (in other fields, keys, other separators)."""

    patterns: list[Any] = field(default_factory=list)  # RE2 alternations of the values
    exact: dict[str, Hit] = field(default_factory=dict)  # value, lower-cased -> its finding
    alnum: dict[str, Hit] = field(default_factory=dict)  # letters/digits, upper -> finding
    keys: dict[str, str] = field(default_factory=dict)  # key -> key as written back
    # keys that held a finding themselves -> their rewritten text (a normalised key's
    # finding is not found again in its raw form by the patterns)
    found_keys: dict[str, str] = field(default_factory=dict)
    count: int = 0

    def source(self, text: str) -> Hit | None:
        return self.exact.get(text.lower()) or self.alnum.get(_alnum(text))

    def spans(self, leaf: int, text: str) -> list[Hit]:
        out: list[Hit] = []
        for pat in self.patterns:
            for m in pat.finditer(text):
                src = self.source(m.group())
                if src is not None:
                    out.append(Hit(leaf, m.start(), m.end(), src.confidence, src.det))
        return out

    def rewrite_key(self, key: str, policy: RedactionPolicy) -> str:
        if not isinstance(key, str):
            return key
        forced = self.found_keys.get(key)
        if forced is not None:
            return forced
        if not self.patterns:
            return key
        done = self.keys.get(key)
        if done is None:
            spans = self.spans(-1, key)
            done = _rewrite(key, spans, policy)[0] if spans else key
            if len(self.keys) < 65536:
                self.keys[key] = done
        if done != key:
            self.count += 1
        return done


def _alnum(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum()).upper()


def _value_pattern(value: str) -> tuple[str, bool] | None:
    """The value's pattern, and whether it also matches other separators."""
    if len(value) < MIN_COPY_LEN:
        return None
    alnum = [ch for ch in value if ch.isalnum()]
    if "@" not in value and _FLEX_MIN <= len(alnum) <= FLEX_MAX:
        # the same letters and digits, with or without one separator between any two
        flex = r"[\s\-./_]?".join(re2.escape(ch) for ch in alnum)
        return f"{re2.escape(value)}|{flex}", True
    return re2.escape(value), False


_SEP = "\n\x00\n"  # between leaves: no value (nor its flexible form) crosses it


def _copies(an: Analysis, by_leaf: dict[int, list[Hit]]) -> _Copies:
    """Find every other occurrence of the found values in every leaf of the body."""
    cp = _Copies()
    seen: dict[str, Hit] = {}
    for li, hits in by_leaf.items():
        text = an.leaves[li].text
        for h in hits:
            seen.setdefault(text[h.start : h.end], h)
    alts: list[str] = []
    for value, h in sorted(seen.items(), key=lambda kv: -len(kv[0])):
        got = _value_pattern(value)
        if got is None:
            continue
        alts.append(got[0])
        cp.exact.setdefault(value.lower(), h)
        if got[1]:
            cp.alnum.setdefault(_alnum(value), h)
    for i in range(0, len(alts), _COPY_BATCH):
        cp.patterns.append(re2.compile("(?i:" + "|".join(alts[i : i + _COPY_BATCH]) + ")", _RE2))
    if not cp.patterns:
        return cp
    # one pass per pattern over every leaf, joined (a call per leaf costs more than the scan)
    texts = [leaf.text for leaf in an.leaves]
    starts = [0]
    for t in texts:
        starts.append(starts[-1] + len(t) + len(_SEP))
    extra: dict[int, list[Hit]] = defaultdict(list)
    for h in cp.spans(-1, _SEP.join(texts)):
        li = bisect_right(starts, h.start) - 1
        base = starts[li]
        extra[li].append(Hit(li, h.start - base, h.end - base, h.confidence, h.det))
    for li, found in extra.items():
        own = by_leaf.get(li, [])
        new = [
            x
            for x in found
            if not any(h.start <= x.start and x.end <= h.end for h in own)  # already covered
        ]
        if new:
            cp.count += len(new)
            by_leaf[li] = [*own, *new]
    return cp


# -- rebuilding the body ---------------------------------------------------------------------


def _rebuild(
    an: Analysis, by_leaf: dict[int, list[Hit]], policy: RedactionPolicy, copies: _Copies
) -> bytes:
    new: dict[int, Any] = {}
    for li, hits in by_leaf.items():
        leaf = an.leaves[li]
        text, gone = _rewrite(leaf.text, hits, policy)
        if leaf.ref == KEY_REF:  # a key holding a finding: every use of it is renamed
            raw = leaf.path[-1] if leaf.path else None
            if isinstance(raw, str):
                copies.found_keys.setdefault(raw, text)
            continue
        if leaf.ref == DROPPED_REF:
            continue  # a value the document does not hold (written back without it)
        new[li] = None if gone and an.kind in ("json", "ndjson") else text
    rename = _renamer(copies, policy)
    if an.kind == "json":
        doc = an.doc
        for li, val in new.items():
            leaf = an.leaves[li]
            if _holds(doc, leaf):
                doc = _set_path(doc, leaf.path, val)
        _rename_keys(doc, rename)
        return _dumps(doc)
    if an.kind == "ndjson":
        docs: list[Any] = an.doc
        for li, val in new.items():
            leaf = an.leaves[li]
            line = int(leaf.path[0])
            if leaf.ref:  # a line that was not JSON: plain text
                docs[line] = "" if val is None else val
            elif _holds(docs[line], leaf, 1):
                docs[line] = _set_path(docs[line], leaf.path[1:], val)
        lines = []
        for i, d in enumerate(docs):
            if d is None:
                lines.append("")
            elif isinstance(d, str) and _is_text_line(an, i):
                lines.append(d)
            else:
                _rename_keys(d, rename)
                lines.append(_dumps(d).decode())
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
        pairs = [(rename(k), v) for k, v in pairs]
        return urlencode(pairs, safe="*").encode()
    return (new.get(0) or "").encode() if an.leaves else b""


def _holds(doc: Any, leaf: Leaf, skip: int = 0) -> bool:
    """Does the document hold this leaf's value at its path? Not for a value of a repeated key
    other than the last (the document keeps the last; the others are written back by not
    being written at all) -- nor for anything under one."""
    node = doc
    try:
        for p in leaf.path[skip:]:
            if isinstance(p, int) and not isinstance(node, list):
                return False
            node = node[p]
    except (KeyError, IndexError, TypeError):
        return False
    if type(node) is int:
        return str(node) == leaf.text
    return isinstance(node, str) and normalize(node) == leaf.text


def _renamer(copies: _Copies, policy: RedactionPolicy) -> Callable[[str], str]:
    return lambda key: copies.rewrite_key(key, policy)


def _rename_keys(doc: Any, rename: Callable[[str], str]) -> None:
    """Rewrite object keys holding a found value, in place (iteratively: any depth)."""
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            keys = list(node)
            renamed = [rename(k) for k in keys]
            if renamed != keys:
                items = list(node.values())
                node.clear()
                for k, v in zip(renamed, items, strict=True):
                    while k in node:  # two keys masked alike: keep both
                        k += "~"
                    node[k] = v
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, dict | list))


def _is_text_line(an: Analysis, line: int) -> bool:
    return any(leaf.ref == (line,) for leaf in an.leaves)


# -- JSON that orjson refuses, duplicate keys, depth -----------------------------------------


def _strict_body(data: bytes, content_type: str | None, an: Analysis) -> bytes | None:
    """The body re-encoded as strict JSON when it is JSON (or NDJSON lines) that orjson
    refused but other readers accept — a UTF-8 BOM, a lone surrogate escape, NaN — so the
    scan reads its escapes (``\\u0040``) instead of the raw text; None otherwise."""
    kind = kind_of(content_type, data)
    if kind == "json" and an.kind == "text":
        return _strict_json(data)
    if kind == "ndjson" and any(leaf.ref for leaf in an.leaves):
        lines = data.split(b"\n")
        changed = False
        for i, line in enumerate(lines):
            fixed = _strict_json(line) if line.strip() else None
            if fixed is not None:
                lines[i], changed = fixed, True
        return b"\n".join(lines) if changed else None
    return None


def _strict_json(data: bytes) -> bytes | None:
    try:
        text = data.decode("utf-8-sig")
        doc = json.loads(text, parse_constant=lambda _: None)
    except (ValueError, RecursionError):
        return None
    return _dumps(scrub(doc))


class _Duplicate(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _Duplicate
    return out


def _has_duplicate_keys(kind: str, data: bytes) -> bool:
    docs = [line for line in data.split(b"\n") if line.strip()] if kind == "ndjson" else [data]
    for doc in docs:
        try:
            json.loads(doc, object_pairs_hook=_no_duplicates)
        except _Duplicate:
            return True
        except (ValueError, RecursionError):
            continue
    return False


def _dumps(doc: Any) -> bytes:
    """orjson's encoding; a document deeper than orjson writes (254 levels) iteratively."""
    try:
        return orjson.dumps(doc)
    except TypeError:
        pass
    out: list[bytes] = []
    stack: list[Any] = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, bytes):  # a piece of syntax queued by a container
            out.append(node)
        elif isinstance(node, dict):
            items: Iterable[tuple[str, Any]] = node.items()
            parts: list[Any] = [b"{"]
            for i, (k, v) in enumerate(items):
                parts.extend([b"," if i else b"", orjson.dumps(k) + b":", v])
            parts.append(b"}")
            stack.extend(reversed(parts))
        elif isinstance(node, list):
            parts = [b"["]
            for i, v in enumerate(node):
                parts.extend([b"," if i else b"", v])
            parts.append(b"]")
            stack.extend(reversed(parts))
        elif type(node) is int and not -(2**63) <= node < 2**64:
            # a JSON integer beyond 64 bits (Python's parser keeps it exact; orjson does not
            # write it): its decimal text is the same JSON number
            out.append(str(node).encode())
        else:
            out.append(orjson.dumps(node))
    return b"".join(out)
