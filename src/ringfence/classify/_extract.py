"""Turn a payload (JSON, NDJSON, CSV, form-encoded or text) into leaves: (path, key, text).

Parsing is tolerant: a body that does not parse as its declared type is scanned as text, so
arbitrary bytes never raise. Leaves keep the text exactly as decoded (then NFKC-normalised
when non-ASCII, so look-alike digits and letters are caught); nothing is logged or kept.

Everything a reader of the payload may take is a leaf, because data can ride in any of it:
every value of a duplicate JSON key (readers disagree on which copy wins), object keys and
form field names (one leaf per distinct name, after the values), and JSON numbers written as
floats whose value is a whole number (``4556737586899855.0``, ``4.556737586899855e15``).
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from functools import lru_cache, partial
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


#: ``Leaf.ref`` of a leaf that is an object key or a form field name itself (its path is the
#: path of the value under that key; its key words are empty: a key is not its own context).
KEY_REF: tuple[int, ...] = (-1,)
#: ``Leaf.ref`` of a leaf that the parsed document does not hold: the raw text of a document
#: too deep to read with its duplicate keys. Scanned like any leaf; never written back. (The
#: values of a repeated key other than the last are ordinary leaves at the same path: the
#: document holds the last one, and redaction writes back only the leaves it holds.)
DROPPED_REF: tuple[int, ...] = (-2,)


class DupDict(dict[str, Any]):
    """A JSON object with a repeated key: the dict holds the last value of each key (what
    orjson and most readers keep); ``pairs`` holds every (key, value) in document order."""

    __slots__ = ("pairs",)

    def __init__(self, last: dict[str, Any], pairs: list[tuple[str, Any]]) -> None:
        super().__init__(last)
        self.pairs = pairs


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
        head = body[:64]
        if head.startswith(b"\xef\xbb\xbf"):  # a UTF-8 BOM
            head = head[3:]
        head = head.lstrip()
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
    leaves: list[Leaf] | None = None
    if native is not None:
        # (None for a document it does not walk: too deep, or holding a DupDict)
        leaves = native.json_leaves(obj, prefix, Leaf, norm_key, normalize)
    if leaves is None:
        try:
            leaves = _leaves_recursive(obj, prefix)
        except RecursionError:
            leaves = _leaves_iterative(obj, prefix)
    if type(obj) is dict or type(obj) is list or type(obj) is DupDict:
        leaves.extend(key_leaves(obj, prefix))
    return leaves


def _items(node: dict[str, Any]) -> Any:
    return node.pairs if type(node) is DupDict else node.items()


def key_leaves(obj: Any, prefix: tuple[PathPart, ...] = ()) -> list[Leaf]:
    """One leaf per distinct object key, in document order (a key before the keys inside its
    value), each at the path of its first value; what ``json_raw`` appends after the values.
    Iterative, and a path is only built for a new key (linear in the document)."""
    out: list[Leaf] = []
    seen: set[str] = set()
    new = tuple.__new__
    parts: list[PathPart] = []  # the path below ``prefix`` of the container being read
    stack: list[Any] = [iter(_pairs_of(obj))]
    while stack:
        for k, child in stack[-1]:
            if type(k) is str and k and k not in seen:
                seen.add(k)
                out.append(new(Leaf, ((*prefix, *parts, k), "", normalize(k), KEY_REF)))
            t = type(child)
            if t is dict or t is list or t is DupDict:
                parts.append(k)
                stack.append(iter(_pairs_of(child)))
                break
        else:
            stack.pop()
            if parts:
                parts.pop()
    return out


def _pairs_of(node: Any) -> Any:
    return _items(node) if type(node) is not list else enumerate(node)


def _leaves_recursive(obj: Any, prefix: tuple[PathPart, ...]) -> list[Leaf]:
    leaves: list[Leaf] = []
    append = leaves.append
    new = tuple.__new__  # skips NamedTuple's Python-level __new__ (~100 leaves a page)

    def walk(node: Any, path: tuple[PathPart, ...], last: str, words: str) -> None:
        nt = type(node)
        if nt is dict or nt is DupDict:
            for k, child in _items(node):  # a DupDict: every copy of a repeated key
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
                elif t is dict or t is list or t is DupDict:
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
                elif t is dict or t is list or t is DupDict:
                    walk(child, (*path, i), last, words)
                elif t is int:
                    append(new(Leaf, ((*path, i), words, str(child), ())))

    t = type(obj)
    if t is dict or t is list or t is DupDict:
        walk(obj, prefix, "", "")
    elif t is str and obj:
        append(new(Leaf, (prefix, "", normalize(obj), ())))
    elif t is int:
        append(new(Leaf, (prefix, "", str(obj), ())))
    return leaves


def _leaves_iterative(obj: Any, prefix: tuple[PathPart, ...]) -> list[Leaf]:
    """The walk for documents too deep to recurse into. A container's path is a link to its
    parent's ((parent link, key) pairs), made into a tuple only for a leaf: building a tuple
    per level made a document nested n deep cost O(n^2) (50,000 levels: ~18 s)."""
    leaves: list[Leaf] = []
    append = leaves.append
    new = tuple.__new__  # skips NamedTuple's Python-level __new__ (~100 leaves a page)
    stack: list[tuple[Any, Any, str, str]] = [(None, obj, "", "")]
    pop, push = stack.pop, stack.append
    while stack:
        link, node, last, words = pop()
        t = type(node)
        if t is str:
            if node:
                text = node if node.isascii() else normalize(node)
                append(new(Leaf, (_linked_path(prefix, link), words, text, ())))
        elif t is dict or t is DupDict:
            for k, child in reversed(list(_items(node))):
                name = norm_key(k)
                push(((link, k), child, name, f"{last} {name}" if last else name))
        elif t is list:
            for i in range(len(node) - 1, -1, -1):
                push(((link, i), node[i], last, words))
        elif t is int:
            append(new(Leaf, (_linked_path(prefix, link), words, str(node), ())))
    return leaves


def _linked_path(prefix: tuple[PathPart, ...], link: Any) -> tuple[PathPart, ...]:
    parts: list[PathPart] = []
    while link is not None:
        link, part = link
        parts.append(part)
    parts.reverse()
    return (*prefix, *parts)


#: A float literal's parts: sign, integer digits, fraction digits, exponent.
_FLOAT = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?")
#: Whole numbers written as floats are read as integers from this many digits on (shorter
#: ones -- 1.0, 250.0 -- are amounts, and no detector's value is that short) up to this many.
FLOAT_INT_MIN_DIGITS = 6
FLOAT_INT_MAX_DIGITS = 40
#: A JSON float literal that float_literal may read as a whole number (an RE2 pattern for the
#: raw-body gate): a number token in exponent form, or of six digits and a fraction of zeros.
WHOLE_FLOAT_GATE = (
    r"(?:^|[\[:,\n])[ \t\r\n]*-?(?:[0-9]+(?:\.[0-9]+)?[eE][+\-]?[0-9]+|[0-9]{6,}\.0+)"
    r"[ \t\r\n]*(?:[,\]}\n]|$)"
)


def float_literal(lit: str) -> float | int:
    """A JSON float literal's value: an int when it is a whole number of
    FLOAT_INT_MIN_DIGITS..FLOAT_INT_MAX_DIGITS digits (exactly, from the literal's digits:
    ``4556737586899855.0``, ``4.556737586899855e15`` and ``45567375868998550e-1`` all read
    4556737586899855, which a double would round beyond 2**53), else the float."""
    m = _FLOAT.fullmatch(lit)
    if m is None or (m.group(4) is not None and len(m.group(4).lstrip("+-")) > 6):
        return float(lit)
    sign, ip, fp, ex = m.group(1), m.group(2), m.group(3) or "", m.group(4)
    digits = ip + fp
    shift = (int(ex) if ex else 0) - len(fp)
    if shift >= 0:
        whole = digits.lstrip("0")
        if whole:
            if len(whole) + shift > FLOAT_INT_MAX_DIGITS:
                return float(lit)
            whole += "0" * shift
    else:
        if -shift > len(digits) or digits[shift:].strip("0"):
            return float(lit)  # a fraction (or zero)
        whole = digits[:shift].lstrip("0")
    if not FLOAT_INT_MIN_DIGITS <= len(whole) <= FLOAT_INT_MAX_DIGITS:
        return float(lit)
    return int(sign + whole)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    last = dict(pairs)
    return last if len(last) == len(pairs) else DupDict(last, pairs)


def _constant(_name: str) -> None:
    return None  # NaN, Infinity: read (other readers take them) as null


_loads = partial(
    json.loads, object_pairs_hook=_pairs, parse_float=float_literal, parse_constant=_constant
)
_LONE_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def read_json(body: bytes | str) -> tuple[bool, Any, str | None]:
    """``(ok, document, unread)``: the document as lenient readers take it -- a UTF-8 BOM
    skipped, NaN/Infinity as null, lone surrogate escapes as U+FFFD, duplicate keys kept (see
    DupDict), whole-number floats as ints (see float_literal). ``unread`` is None, or the body's
    text when the document is too deep for the duplicate-aware reader: orjson's reading is
    returned then, and the raw text must be scanned as well (an unchecked first copy)."""
    if isinstance(body, str):
        text = body
    else:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return False, None, None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        doc = _loads(text)
    except RecursionError:
        try:
            return True, orjson.loads(text), text
        except (orjson.JSONDecodeError, ValueError, TypeError):
            return False, None, None
    except (ValueError, TypeError):
        return False, None, None
    if text.find("\\u") >= 0 and _LONE_SURROGATE.search(text) is not None:
        doc = scrub(doc)
    return True, doc, None


def parse_json(body: bytes | str) -> tuple[bool, Any]:
    ok, doc, _unread = read_json(body)
    return ok, doc


def document_leaves(
    doc: Any, unread: str | None, prefix: tuple[PathPart, ...], native: ModuleType | None
) -> list[Leaf]:
    """json_leaves of a read_json document, with its unread text (if any) as one more leaf."""
    leaves = json_leaves(doc, prefix, native)
    if unread:
        leaves.append(Leaf(prefix, "", normalize(unread), DROPPED_REF))
    return leaves


def _clean(s: str) -> str:
    # a lone surrogate (valid in a parsed document, not in UTF-8) becomes U+FFFD
    return s.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def scrub(doc: Any) -> Any:
    """The document with lone surrogates replaced (iteratively: any depth)."""
    if isinstance(doc, str):
        return _clean(doc)
    root = [doc]
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, DupDict):
            node.pairs = [
                (_clean(k), _clean(v) if isinstance(v, str) else v) for k, v in node.pairs
            ]
            stack.extend(v for _, v in node.pairs if isinstance(v, dict | list))
            last = dict(node.pairs)
            node.clear()
            node.update(last)
        elif isinstance(node, dict):
            items = [(_clean(k), v) for k, v in node.items()]
            node.clear()
            for k, v in items:
                node[k] = _clean(v) if isinstance(v, str) else v
                if isinstance(v, dict | list):
                    stack.append(v)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                if isinstance(v, str):
                    node[i] = _clean(v)
                elif isinstance(v, dict | list):
                    stack.append(v)
    return root[0]


def ndjson_leaves(text: str, native: ModuleType | None = NATIVE) -> tuple[list[Leaf], list[Any]]:
    leaves: list[Leaf] = []
    docs: list[Any] = []
    for i, line in enumerate(text.split("\n")):
        if not line.strip():
            docs.append(None)
            continue
        ok, doc, unread = read_json(line)
        docs.append(doc if ok else line)
        if ok:
            leaves.extend(document_leaves(doc, unread, (i,), native))
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
    """The values (ref: the pair's index), then one leaf per distinct field name."""
    leaves = [Leaf((k,), norm_key(k), normalize(v), (i,)) for i, (k, v) in enumerate(pairs) if v]
    seen: set[str] = set()
    for k, _v in pairs:
        if k and k not in seen:
            seen.add(k)
            leaves.append(Leaf((k,), "", normalize(k), KEY_REF))
    return leaves


def text_leaves(text: str) -> list[Leaf]:
    return [Leaf((), "", normalize(text))] if text else []
