"""Turn a payload (JSON, NDJSON, CSV, form-encoded or text) into leaves: (path, key, text).

Parsing is tolerant: a body that does not parse as its declared type is scanned as text, so
arbitrary bytes never raise. Leaves keep the text exactly as decoded (then NFKC-normalised
when non-ASCII, so look-alike digits and letters are caught); nothing is logged or kept.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from functools import lru_cache
from types import ModuleType
from typing import Any, Literal, NamedTuple
from urllib.parse import parse_qsl

import orjson

from ringfence.classify._accel import NATIVE
from ringfence.classify._model import PathPart

Kind = Literal["json", "ndjson", "csv", "form", "text"]
MAX_CSV_FIELD = 1 << 20


class Leaf(NamedTuple):
    path: tuple[PathPart, ...]
    key: str  # words of the nearest key(s), lowercase, space separated: "card number"
    text: str
    ref: tuple[int, ...] = ()  # structural location for rebuilding (csv row/col, form index)


_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_WORDS = re.compile(r"[^\W_]+")


#: Key names (and paths) longer than this are worked out afresh instead of cached: the caches
#: see untrusted key names, and a few thousand megabyte-long names must not stay in memory.
CACHE_KEY_LEN = 256


def _norm_key(key: str) -> str:
    return " ".join(_WORDS.findall(_CAMEL.sub(r"\1 \2", key).lower()))


_norm_key_cached = lru_cache(maxsize=8192)(_norm_key)


def norm_key(key: str) -> str:
    """``customerEmail`` / ``card_number`` / ``Card-Number`` become ``customer email`` etc."""
    if type(key) is str and len(key) > CACHE_KEY_LEN:
        return _norm_key(key)
    return _norm_key_cached(key)


def normalize(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def decode(body: bytes) -> str:
    return body.decode("utf-8", errors="replace")


def kind_of(content_type: str | None, body: bytes) -> Kind:
    ct = (content_type or "").split(";", 1)[0].strip().lower()
    if ct in ("application/x-ndjson", "application/jsonl", "application/json-seq") or ct.endswith(
        "+ndjson"
    ):
        return "ndjson"
    if ct == "application/json" or ct.endswith("+json") or ct == "text/json":
        return "json"
    if ct in ("text/csv", "application/csv"):
        return "csv"
    if ct == "application/x-www-form-urlencoded":
        return "form"
    if not ct:
        head = body[:64].lstrip()
        if head[:1] in (b"{", b"["):
            return "json"
    return "text"


# format_path's memo (path parts -> text); the native result loop reads it directly.
PATHS: dict[tuple[PathPart, ...], str] = {}
PATHS_MAX = 16384


def format_path(parts: tuple[PathPart, ...]) -> str:
    """``$.customer.emails[0]``; remembered unless long (see CACHE_KEY_LEN)."""
    text = PATHS.get(parts)
    if text is None:
        text = _format_path(parts)
        if len(text) <= 4 * CACHE_KEY_LEN:
            if len(PATHS) >= PATHS_MAX:
                PATHS.clear()
            PATHS[parts] = text
    return text


def _format_path(parts: tuple[PathPart, ...]) -> str:
    out = ["$"]
    for p in parts:
        if isinstance(p, int):
            out.append(f"[{p}]")
        elif p.isidentifier():
            out.append(f".{p}")
        else:
            out.append("[" + _quote(p) + "]")
    return "".join(out)


def _quote(key: str) -> str:
    """A key as a JSON string; a lone surrogate (valid in a parsed document, not in UTF-8)
    is written as its ``\\udXXX`` escape instead of making the scan raise."""
    try:
        return orjson.dumps(key).decode()
    except TypeError:
        return json.dumps(key)


def _key_of(parts: tuple[PathPart, ...]) -> str:
    names = [p for p in parts if isinstance(p, str)]
    if not names:
        return ""
    if len(names) == 1:
        return norm_key(names[0])
    return norm_key(names[-2]) + " " + norm_key(names[-1])


def json_leaves(
    obj: Any, prefix: tuple[PathPart, ...] = (), native: ModuleType | None = NATIVE
) -> list[Leaf]:
    """String and integer leaves of a parsed JSON document, in document order.

    The native walk when available (same leaves, a fraction of the cost); else recursive
    Python for ordinary documents; a document nested deeper than the native walk's or Python's
    recursion limit is walked again iteratively, so depth never makes the scanner fail.
    """
    if native is not None:
        leaves: list[Leaf] | None = native.json_leaves(obj, prefix, Leaf, norm_key, normalize)
        if leaves is not None:
            return leaves
    try:
        return _leaves_recursive(obj, prefix)
    except RecursionError:
        return _leaves_iterative(obj, prefix)


def _leaves_recursive(obj: Any, prefix: tuple[PathPart, ...]) -> list[Leaf]:
    leaves: list[Leaf] = []
    append = leaves.append
    new = tuple.__new__  # skips NamedTuple's Python-level __new__ (~100 leaves a page)

    def walk(node: Any, path: tuple[PathPart, ...], last: str, words: str) -> None:
        if type(node) is dict:
            for k, child in node.items():
                t = type(child)
                if t is str:
                    if child:
                        name = norm_key(k)
                        kw = f"{last} {name}" if last else name
                        append(
                            new(
                                Leaf,
                                (
                                    (*path, k),
                                    kw,
                                    child if child.isascii() else normalize(child),
                                    (),
                                ),
                            )
                        )
                elif t is dict or t is list:
                    name = norm_key(k)
                    walk(child, (*path, k), name, f"{last} {name}" if last else name)
                elif t is int:
                    name = norm_key(k)
                    append(
                        new(Leaf, ((*path, k), f"{last} {name}" if last else name, str(child), ()))
                    )
        else:
            for i, child in enumerate(node):
                t = type(child)
                if t is str:
                    if child:
                        text = child if child.isascii() else normalize(child)
                        append(new(Leaf, ((*path, i), words, text, ())))
                elif t is dict or t is list:
                    walk(child, (*path, i), last, words)
                elif t is int:
                    append(new(Leaf, ((*path, i), words, str(child), ())))

    t = type(obj)
    if t is dict or t is list:
        walk(obj, prefix, "", "")
    elif t is str and obj:
        append(new(Leaf, (prefix, "", normalize(obj), ())))
    elif t is int:
        append(new(Leaf, (prefix, "", str(obj), ())))
    return leaves


def _leaves_iterative(obj: Any, prefix: tuple[PathPart, ...]) -> list[Leaf]:
    leaves: list[Leaf] = []
    append = leaves.append
    new = tuple.__new__  # skips NamedTuple's Python-level __new__ (~100 leaves a page)
    stack: list[tuple[tuple[PathPart, ...], Any, str, str]] = [(prefix, obj, "", "")]
    pop, push = stack.pop, stack.append
    while stack:
        path, node, last, words = pop()
        t = type(node)
        if t is str:
            if node:
                append(new(Leaf, (path, words, node if node.isascii() else normalize(node), ())))
        elif t is dict:
            for k, child in reversed(node.items()):
                name = norm_key(k)
                push(((*path, k), child, name, f"{last} {name}" if last else name))
        elif t is list:
            for i in range(len(node) - 1, -1, -1):
                push(((*path, i), node[i], last, words))
        elif t is int:
            append(new(Leaf, (path, words, str(node), ())))
    return leaves


def parse_json(body: bytes | str) -> tuple[bool, Any]:
    try:
        return True, orjson.loads(body)
    except (orjson.JSONDecodeError, ValueError, TypeError):
        return False, None


def ndjson_leaves(text: str, native: ModuleType | None = NATIVE) -> tuple[list[Leaf], list[Any]]:
    leaves: list[Leaf] = []
    docs: list[Any] = []
    for i, line in enumerate(text.split("\n")):
        if not line.strip():
            docs.append(None)
            continue
        ok, doc = parse_json(line)
        docs.append(doc if ok else line)
        if ok:
            leaves.extend(json_leaves(doc, (i,), native))
        else:
            leaves.append(Leaf((i,), "", normalize(line), (i,)))
    return leaves, docs


def csv_rows(text: str) -> list[list[str]] | None:
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except (csv.Error, ValueError):
        return None


def csv_leaves(rows: list[list[str]]) -> list[Leaf]:
    header = rows[0] if rows else []
    leaves: list[Leaf] = []
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            if not cell:
                continue
            name = header[c] if r > 0 and c < len(header) else ""
            parts: tuple[PathPart, ...] = (r, name or c)
            leaves.append(Leaf(parts, norm_key(name), normalize(cell), (r, c)))
    return leaves


def form_pairs(text: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(text, keep_blank_values=True, max_num_fields=100_000)
    except ValueError:
        return []


def form_leaves(pairs: list[tuple[str, str]]) -> list[Leaf]:
    return [Leaf((k,), norm_key(k), normalize(v), (i,)) for i, (k, v) in enumerate(pairs) if v]


def text_leaves(text: str) -> list[Leaf]:
    return [Leaf((), "", normalize(text))] if text else []
