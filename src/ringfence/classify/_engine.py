"""The classification engine: prefilter, confirm, validate, weigh context, report findings.

A ``Classifier`` compiles every detector once (Hyperscan or an RE2 set as prefilter, Python
``re`` for the trusted built-in patterns, RE2 for custom ones) and is then safe to call inline
from the gateway for every body. It never raises on arbitrary bytes, never returns, logs or
stores a matched value: findings carry a masked preview only.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache, partial
from itertools import accumulate
from types import ModuleType
from typing import Any

import orjson

from ringfence.classify import _extract as ex
from ringfence.classify._accel import NATIVE
from ringfence.classify._catalogue import BUILTIN_DETECTORS, DEFAULT_ALLOWLIST
from ringfence.classify._hits import (
    Hit,
    Spans,
    byte_to_char,
    inside_taken,
    literal,
    resolve_overlaps,
    take,
)
from ringfence.classify._mask import PREVIEW_MAX, canonical, preview
from ringfence.classify._model import (
    DEFAULT_MIN_CONFIDENCE,
    Detector,
    Finding,
    ScanResult,
)
from ringfence.classify._phone_dfa import preload as preload_phone_tables
from ringfence.classify._pii import EMAIL_PATTERN, EMAIL_START
from ringfence.classify._prefilter import Candidates, Prefilter, Re2Gate, build_prefilter
from ringfence.classify._validators import NATIVE_TWINS, not_placeholder, shannon_entropy
from ringfence.core.errors import ConfigError
from ringfence.core.levels import DataClass

SEP = "\n\x00\n"  # between leaves; no detector pattern crosses a newline
_SEP_LEN = len(SEP)
_NEGATIVE_WORDS = (
    "order invoice uuid guid timestamp tracking sku version build hash checksum sha etag "
    "request trace span nonce created updated epoch ticket zip postal sequence seq count "
    "amount price total quantity id ref reference number no"
)
_NEGATIVE_KEY_WORDS = frozenset(_NEGATIVE_WORDS.split())
_NEGATIVE_WINDOW = re.compile(
    r"(?<![a-z])(?:order|invoice|ticket|tracking|shipment|sku|ref|reference|build|version|"
    r"commit|trace|request id|serial)(?![a-z])[^\n]{0,24}$",
    re.IGNORECASE,
)
_NUMERIC = re.compile(r"[0-9 .\-/]+")
_SECRET_FIELD = re.compile(
    r"(?:^| )(?:secret|token|apikey|api key|key|password|passwd|passphrase|pwd|credentials?|"
    r"private key|access key|auth|authorization|client secret|signing key)(?: |$)"
)
_PASSWORD_FIELD = re.compile(r"(?:^| )(?:password|passwd|passphrase|pwd)(?: |$)")
_NOT_SECRET_FIELD = re.compile(
    r"(?:^| )(?:type|types|expires|expiry|ttl|count|url|uri|name|hint|length|policy|at|set|"
    r"required|enabled|page|cursor|next|prev|previous|csrf|endpoint|method|id|scope|scopes|"
    r"usage|format|version|hash)(?: |$)"
)
# Finding's fields in order: result() builds rows (type_id, data_class, path, ...).
_FINDING_FIELDS = tuple(f.name for f in fields(Finding))
_RESULT_FIELDS = tuple(f.name for f in fields(ScanResult))  # (findings, class, kind, types)
_KEY_CACHE = 4096  # distinct key names remembered per detector
_REDACTED_LOOKING = frozenset({"redacted", "null", "none", "true", "false", "undefined"})


@dataclass(slots=True)
class _Compiled:
    det: Detector
    regex: Any  # re.Pattern[str] for built-ins, an RE2 pattern for custom detectors
    group: int
    ctx: re.Pattern[str] | None
    short_keys: frozenset[str]
    long_keys: tuple[str, ...]
    key_hits: dict[str, bool] = field(default_factory=dict)  # key words -> key context?
    # The built-in email pattern, step-back class included: the native path finds its
    # matches with _native.email_spans instead of a re.match per start tried.
    native_email: bool = False


@dataclass(slots=True)
class Analysis:
    """Everything one scan learnt; redaction rebuilds the payload from it."""

    kind: ex.Kind
    # A list, or for JSON read by the raw path a native ``RawDoc`` (the same leaves, each
    # built when first indexed); ``doc`` is then not built (redaction asks for ``whole``).
    leaves: Sequence[ex.Leaf] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    doc: Any = None
    parsed: bool = False


def _context_regex(words: Sequence[str]) -> re.Pattern[str] | None:
    if not words:
        return None
    alts = [re.escape(w) + (r"(?![a-z])" if len(w) <= 4 else "") for w in words]
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(alts) + ")", re.IGNORECASE)


def probe_regex(probe: Sequence[Sequence[str]]) -> re.Pattern[str]:
    """What a detector's ``window_probe`` looks for, as a regex (the reference the native
    window check is held to; the engine itself never runs it)."""
    seqs = ("".join("[" + re.escape(cls) + "]" for cls in seq) for seq in probe)
    return re.compile("|".join(seqs))


def compile_detector(det: Detector, *, use_re2: bool = False) -> _Compiled:
    if use_re2:
        import re2

        opts = re2.Options()
        opts.case_sensitive = not det.caseless
        regex: Any = re2.compile(det.pattern, opts)
    else:
        flags = re.ASCII | (re.IGNORECASE if det.caseless else 0)
        regex = re.compile(det.pattern, flags)
    groups: dict[str, int] = dict(regex.groupindex or {})
    native_email = (
        not use_re2
        and not det.caseless
        and det.pattern == EMAIL_PATTERN
        and det.start_chars == EMAIL_START
        and not groups
    )
    return _Compiled(
        det=det,
        regex=regex,
        group=groups.get("v", 0),
        ctx=_context_regex(det.context),
        short_keys=frozenset(k for k in det.keys if len(k) <= 4),
        long_keys=tuple(k for k in det.keys if len(k) > 4),
        native_email=native_email,
    )


_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_HEX_DASH = frozenset("0123456789abcdefABCDEF-")
_DIGITS_SEPS = frozenset("0123456789- ")


def in_uuid(text: str, s: int, e: int) -> bool:
    """Whether ``text[s:e]`` is a digit-only value that is part of a UUID. Only a value that
    touches a hex digit or dash on a side is looked at closely."""
    n = len(text)
    if not ((s > 0 and text[s - 1] in _HEX_DASH) or (e < n and text[e] in _HEX_DASH)):
        return False
    if not set(text[s:e]) <= _DIGITS_SEPS:
        return False
    a, b = s, e
    while a > 0 and text[a - 1] in _HEX_DASH:
        a -= 1
    while b < n and text[b] in _HEX_DASH:
        b += 1
    return any(m.start() <= s and e <= m.end() for m in _UUID.finditer(text, a, b))


def _outside_uuids(hits: list[Hit], leaves: Sequence[ex.Leaf]) -> list[Hit]:
    """The hits without digit-only values that are part of a UUID: a UUID's groups can be all
    decimal ("54484252-6369-4216-bdcb-…" reads as a Luhn-valid Mastercard number, about one
    random UUID in a few hundred), and identifiers fill SaaS payloads."""
    return [h for h in hits if not in_uuid(leaves[h.leaf].text, h.start, h.end)]


class Classifier:
    """Compiled detectors + prefilter; call :meth:`scan` per payload (thread-safe)."""

    def __init__(
        self,
        detectors: Sequence[Detector] | None = None,
        *,
        custom: Sequence[Detector] = (),
        allow_values: Iterable[str] = (),
        allow_sha256: Iterable[str] = (),
        default_allowlist: bool = True,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        engine: str = "auto",
        max_structured_bytes: int = 32 << 20,
        chunk_chars: int = 1 << 20,
        overlap_chars: int = 4096,
        native: bool | None = None,
        raw_json: bool = True,
    ) -> None:
        builtin = list(BUILTIN_DETECTORS if detectors is None else detectors)
        seen: set[str] = set()
        for d in [*builtin, *custom]:
            if d.id in seen:
                raise ConfigError(f"duplicate data type id {d.id!r}", code="classify_duplicate")
            seen.add(d.id)
        self._compiled = [compile_detector(d) for d in builtin]
        self._compiled += [compile_detector(d, use_re2=True) for d in custom]
        self._field_secret = next(
            (i for i, c in enumerate(self._compiled) if c.det.id == "generic_secret_field"), -1
        )
        value_patterns = [
            (c.det.prefilter or c.det.pattern, c.det.caseless, True) for c in self._compiled
        ]
        # A detector that needs context is only run when one of its context words or key
        # hints occurs: in the positional prefilter its slot holds that word list instead of
        # its (broad, slow) value pattern. Detectors whose *bare* form needs context get the
        # word list as one extra expression.
        patterns = list(value_patterns)
        self._ctx_id: dict[int, int] = {}
        for i, c in enumerate(self._compiled):
            words = [*c.det.context, *c.det.keys]
            if not words or not (c.det.needs_context or c.det.bare_needs_context):
                continue
            expr = ("(?:" + "|".join(literal(w) for w in words) + ")", True, False)
            if c.det.needs_context:
                # Positions of the context words: only the fields holding one (or whose key
                # names the type) are searched for the value, not the whole payload.
                patterns[i] = (expr[0], True, True)
            else:
                if c.det.formatted:  # bare forms are only looked for when context occurs
                    patterns[i] = (c.det.formatted, c.det.caseless, True)
                patterns.append(expr)
                self._ctx_id[i] = len(patterns) - 1
        # Only the built-in patterns (Python re, trusted) may be checked by re in the
        # prefilter's anchored tier; custom ones stay on the linear-time engines.
        # Custom patterns (and their context words) are RE2's: the prefilter must not read them
        # differently (non-ASCII classes, "." over a multi-byte character).
        custom_ids = set(range(len(builtin), len(self._compiled)))
        custom_ids |= {x for i, x in self._ctx_id.items() if i in custom_ids}
        self._prefilter: Prefilter = build_prefilter(
            patterns, engine, range(len(builtin)), custom_ids
        )
        # Confirmation order of every prefilter id (detectors and context expressions).
        self._rank = [self._order(i) for i in range(len(patterns))]
        # The raw-body gate only asks "could anything match?": one RE2 search over the value
        # patterns answers that cheaply (stopping at the first match), and a clean body is
        # never parsed.
        # (plus the float literals a JSON body's reading turns into whole numbers, whose
        # digits need not stand together in the raw bytes: 45567375.86899855e8)
        self._gate = Re2Gate([*value_patterns, (ex.WHOLE_FLOAT_GATE, False, False)])
        allow = list(allow_values) + (list(DEFAULT_ALLOWLIST) if default_allowlist else [])
        # Allow-listed values are known test values, kept in canonical form (no secrets here).
        self._allow = frozenset(canonical(v) for v in allow)
        # Allow-listed values from ringfence.yaml are stored as SHA-256 of their canonical form
        # (see :func:`allow_digest`), so a real value listed by mistake is not kept in clear.
        self._allow_hash = frozenset(h.lower() for h in allow_sha256)
        self.min_confidence = min_confidence
        # Below this a candidate is dropped before its validator runs (saves most of the
        # work on ids and timestamps); reported findings are therefore all confident.
        self._floor = max(min_confidence, 0.01)
        self.max_structured_bytes = max_structured_bytes
        self.chunk_chars = chunk_chars
        self.overlap_chars = max(256, min(overlap_chars, chunk_chars))
        # Constants of the native confirmation loop, per detector and per engine (the order
        # is the C side's; the callables are the same ones the Python path calls).
        self._spec = [
            (
                c.group,
                c.det.needs_context,
                c.det.bare_needs_context,
                float(c.det.base),
                float(c.det.separated_bonus),
                c.det.short_len,
                c.det.category == "secret",
                NATIVE_TWINS.get(c.det.validator, c.det.validator) if c.det.validator else None,
                c.ctx.search if c.ctx is not None else None,
                c.key_hits,
                partial(_key_hit, c),
                c.det,
            )
            for c in self._compiled
        ]
        self._eng = (
            self._floor,
            self._allow,
            self._allow_hash,
            canonical,
            allow_digest,
            _looks_like_other_id,
            Hit,
            _KEY_CACHE,
            ex.CACHE_KEY_LEN,
        )
        # The native hot path (None: pure Python). ``native=None`` follows the module default
        # (available and not switched off by RINGFENCE_CLASSIFY_NATIVE=0); False forces Python.
        self._native: ModuleType | None = NATIVE if native is not False else None
        if native and NATIVE is None:
            raise ConfigError(
                "the native classification engine is not available", code="classify_native"
            )
        if self._native is not None:
            # the phone twin's digit tables (shipped with the package) are read once per
            # process here rather than on a worker's first phone number
            preload_phone_tables()
        # JSON bodies read straight from their bytes (native only; ``raw_json=False`` keeps the
        # parse-and-walk reference path, which tests/classify/test_raw_json.py holds it to).
        self._raw = raw_json and self._native is not None

    @property
    def engine(self) -> str:
        return self._prefilter.engine

    @property
    def native(self) -> bool:
        """Is the native hot path in use?"""
        return self._native is not None

    @property
    def detectors(self) -> tuple[Detector, ...]:
        return tuple(c.det for c in self._compiled)

    # -- public scanning API --------------------------------------------------------------

    def scan(
        self, body: bytes | bytearray | memoryview | str, content_type: str | None = None
    ) -> ScanResult:
        """Classify one payload. ``content_type`` picks JSON, NDJSON, CSV, form or text."""
        data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else bytes(body)
        return self.result(self.analyze(data, content_type))

    def may_find(self, data: bytes) -> bool:
        """False only when ``scan`` of this plain body (ASCII, no backslash escapes) as text or
        JSON is sure to find nothing: no pattern occurs in its bytes (the raw-body gate that
        ``scan`` applies first). Lets a caller with many clean bodies skip building an empty
        result. A body that is not plain, or a form body (decoded before it is read), must go
        to ``scan``."""
        # (find, not `in`: bytes.__contains__ first tries the operand as an int and raises)
        if not data.isascii() or data.find(b"\\") >= 0:
            return True
        return self._gate.occurs(data)

    def scan_text(self, text: str) -> ScanResult:
        return self.scan(text.encode("utf-8", "surrogatepass"), "text/plain")

    def scan_json(self, doc: Any) -> ScanResult:
        """Classify an already-parsed JSON document (dict / list / scalars)."""
        an = Analysis(kind="json", doc=doc, parsed=True)
        an.leaves = ex.json_leaves(doc, (), self._native)
        an.hits = self._confirm_leaves(an.leaves, None)
        return self.result(an)

    def scan_stream(self, chunks: Iterable[bytes], content_type: str | None = None) -> ScanResult:
        """Classify a large text body chunk by chunk with overlap (bounded memory)."""
        del content_type  # streamed bodies are scanned as text: paths are not available
        an = Analysis(kind="text")
        leaves: list[ex.Leaf] = []
        for leaf, hits in self._windows(self._decode_stream(chunks)):
            base = len(leaves)
            leaves.append(leaf)
            an.hits.extend(Hit(base, h.start, h.end, h.confidence, h.det) for h in hits)
        an.leaves = leaves
        return self.result(an, offsets_from_leaf=True)

    # -- internals ----------------------------------------------------------------------------

    def analyze(self, data: bytes, content_type: str | None, *, whole: bool = False) -> Analysis:
        kind = ex.kind_of(content_type, data)
        if kind != "text" and len(data) > self.max_structured_bytes:
            kind = "text"
        an = Analysis(kind=kind)
        # Fast path: a body without escapes or non-ASCII reads the same raw as parsed, so
        # when the gate finds nothing in the raw bytes there is nothing to parse.
        plain = data.isascii() and data.find(b"\\") < 0 and (kind != "form" or data.find(b"%") < 0)
        if plain and not self._gate.occurs(data):
            return an
        if kind == "json" and self._raw and not whole and self._native is not None:
            raw = self._native.json_raw(data, SEP, ex.Leaf, ex.norm_key, ex.normalize)
            if raw is not None:  # else escapes, duplicate keys, ...: the reference path below
                leaves, text, starts, scanned_bytes, scanned = raw
                an.parsed, an.leaves = True, leaves
                if len(leaves):
                    an.hits = self._confirm_joined(
                        leaves, text, starts, scanned_bytes, scanned, None
                    )
                return an
        if kind == "json":
            an.parsed, an.doc, unread = ex.read_json(data)
            if an.parsed:
                an.leaves = ex.document_leaves(an.doc, unread, (), self._native)
            else:
                an.kind = kind = "text"
        elif kind == "ndjson":
            an.leaves, an.doc = ex.ndjson_leaves(ex.decode(data), self._native)
            an.parsed = True
        elif kind == "csv":
            rows = ex.csv_rows(ex.decode(data))
            if rows is None:
                an.kind = kind = "text"
            else:
                an.doc, an.parsed, an.leaves = rows, True, ex.csv_leaves(rows)
        elif kind == "form":
            an.doc = ex.form_pairs(ex.decode(data))
            an.parsed, an.leaves = True, ex.form_leaves(an.doc)
        if kind == "text":
            text = ex.normalize(ex.decode(data))
            if not whole and len(text) > self.chunk_chars + self.overlap_chars:
                windows: list[ex.Leaf] = []
                for leaf, hits in self._windows(iter([text])):
                    base = len(windows)
                    windows.append(leaf)
                    an.hits.extend(Hit(base, h.start, h.end, h.confidence, h.det) for h in hits)
                an.leaves = windows
                return an
            an.leaves = [ex.Leaf((), "", text)] if text else []
        assert isinstance(an.leaves, list)  # the reference path's leaves are a list
        an.hits = self._confirm_leaves(an.leaves, None)
        return an

    def result(self, an: Analysis, *, offsets_from_leaf: bool = False) -> ScanResult:
        windows = offsets_from_leaf or (an.kind == "text" and len(an.leaves) > 1)
        step = self.chunk_chars if windows else 0  # window i starts at i * chunk_chars
        nat = self._native
        if nat is None:
            rows, top = self._result_rows(an, step)
            findings = tuple(Finding(*row) for row in rows)
            types = frozenset(f.type_id for f in findings if f.confidence >= self.min_confidence)
            return _mask_key_paths(an, ScanResult(findings, top, an.kind, types))
        # _result_rows natively (the same rows, class and confident types); the objects are
        # filled through their slots, without a frozen dataclass's __setattr__ per field
        rows, top, types = nat.finding_rows(
            an.hits,
            an.leaves,
            step,
            self.min_confidence,
            DataClass.PUBLIC,
            PREVIEW_MAX,
            ex.PATHS,
            ex.format_path,
            preview,
        )
        # (frozen, and nothing in a row refers to a finding: no cycle, so not GC-tracked)
        findings = tuple(nat.new_objects(Finding, _FINDING_FIELDS, rows, True))
        got: ScanResult = nat.new_objects(
            ScanResult, _RESULT_FIELDS, [(findings, top, an.kind, types)]
        )[0]
        return _mask_key_paths(an, got)

    def _result_rows(self, an: Analysis, step: int) -> tuple[list[tuple[Any, ...]], DataClass]:
        """One Finding's fields per hit, and the class of the confident ones."""
        top = DataClass.PUBLIC
        rows: list[tuple[Any, ...]] = []
        for h in an.hits:
            leaf = an.leaves[h.leaf]
            det = h.det
            shift = h.leaf * step
            rows.append(
                (
                    det.id,
                    det.data_class,
                    ex.format_path(leaf.path),
                    h.start + shift,
                    h.end + shift,
                    h.confidence,
                    preview(det, leaf.text[h.start : h.end]),
                    leaf.path,
                )
            )
            if h.confidence >= self.min_confidence and det.data_class > top:
                top = det.data_class
        return rows, top

    def _decode_stream(self, chunks: Iterable[bytes]) -> Iterator[str]:
        dec = codecs.getincrementaldecoder("utf-8")("replace")
        for chunk in chunks:
            piece = dec.decode(bytes(chunk))
            if piece:
                yield piece
        tail = dec.decode(b"", final=True)
        if tail:
            yield tail

    def _windows(self, pieces: Iterator[str]) -> Iterator[tuple[ex.Leaf, list[Hit]]]:
        """Windows of ``chunk + overlap`` chars stepping by ``chunk``; a hit belongs to the
        window it starts in (before ``chunk``), so nothing is reported twice."""
        step, span = self.chunk_chars, self.chunk_chars + self.overlap_chars
        buf = ""
        for piece in pieces:
            buf += piece
            while len(buf) >= span:
                yield self._window(buf[:span], step)
                buf = buf[step:]
        if buf:
            yield self._window(buf, len(buf))

    def _window(self, text: str, limit: int) -> tuple[ex.Leaf, list[Hit]]:
        leaf = ex.Leaf((), "", ex.normalize(text))
        hits = [h for h in self._confirm_leaves([leaf], None) if h.start < limit]
        return leaf, hits

    def _confirm_leaves(self, leaves: list[ex.Leaf], cands: Candidates | None) -> list[Hit]:
        if not leaves:
            return []
        nat = self._native
        data: bytes | None = None
        if len(leaves) == 1 and not leaves[0].key:
            text, starts = leaves[0].text, [0]
            scanned = text
        elif nat is not None:
            text, starts, data, scanned = nat.join_leaves(leaves, SEP)
        else:
            texts = [leaf.text for leaf in leaves]
            starts = list(accumulate(map(len, texts), lambda a, n: a + n + _SEP_LEN, initial=0))
            starts.pop()
            text = SEP.join(texts)
            # Key names go after the last leaf so context words in keys wake their detectors;
            # nothing found there is reported (it lies outside every leaf).
            keys = {leaf.key for leaf in leaves if leaf.key}
            scanned = text + SEP + " | ".join(f"{k} {k.replace(' ', '')}" for k in keys)
        return self._confirm_joined(leaves, text, starts, data, scanned, cands)

    def _confirm_joined(
        self,
        leaves: Sequence[ex.Leaf],
        text: str,
        starts: list[int],
        data: bytes | None,
        scanned: str,
        cands: Candidates | None,
    ) -> list[Hit]:
        """Prefilter and confirm the leaves joined into ``text`` (each at its ``starts``);
        ``scanned`` is ``text`` with the key names after it, ``data`` its UTF-8 bytes."""
        nat = self._native
        if cands is None:
            if data is None:
                data = scanned.encode("utf-8", "surrogatepass")
            cands = self._prefilter.candidates(data)
        to_char: Callable[[int], int] | None = None
        at_of: dict[int, list[int]] | None = None  # native: id -> sorted str offsets
        if nat is not None:
            # Every candidate offset mapped and sorted per id in one native pass.
            # (a wide str's offsets are counted in its UTF-8 bytes, when at hand)
            wide = not scanned.isascii()
            at_of = nat.char_candidates(scanned if wide else None, cands, data if wide else None)
        elif not scanned.isascii():
            to_char = byte_to_char(scanned)
        hits: list[Hit] = []
        nopos = self._prefilter.no_positions
        # Specific detectors first: a candidate lying inside a span an earlier (more specific)
        # detector already confirmed is skipped before its validator runs.
        taken: dict[int, Spans] = {}
        by_key: dict[str, list[int]] | None = None  # key words -> leaf indices (lazily)
        todo = set(cands)
        # A detector whose slot only holds its formatted pattern still runs when its context
        # occurs (bare values are confirmed by a full scan then).
        todo.update(
            i for i, x in self._ctx_id.items() if x in cands and self._compiled[i].det.formatted
        )
        for idx in sorted(todo, key=self._rank.__getitem__):
            offsets = cands.get(idx, set())
            if idx >= len(self._compiled):
                continue  # a context expression
            c = self._compiled[idx]
            ctx = self._ctx_id.get(idx)
            bare_ok = ctx is None or ctx in cands
            if bare_ok and c.det.formatted:
                offsets = set()  # context occurs: scan for bare forms too
            if idx == self._field_secret:
                hits.extend(self._field_secrets(leaves))
                continue
            if c.det.needs_context and offsets and idx not in nopos:
                at = _offsets(offsets, to_char, at_of, idx)
                if nat is not None:
                    # a Python pattern's search: one call per window instead of an iterator
                    search = c.regex.search if isinstance(c.regex, re.Pattern) else None
                    matches = nat.context_matches(
                        self._spec[idx],
                        self._eng,
                        c.regex.finditer,
                        leaves,
                        text,
                        starts,
                        at,
                        search,
                        c.det.window_probe or None,
                    )
                else:
                    if by_key is None:
                        by_key = _by_key(leaves)
                    matches = self._context_matches(c, leaves, text, starts, at, by_key)
            elif offsets and idx not in nopos:
                at = _offsets(offsets, to_char, at_of, idx)
                if nat is not None and not c.det.prefilter:
                    matches = nat.matches_at(c.regex.match, text, at)
                elif nat is not None and c.native_email:
                    matches = nat.email_spans(text, at, c.det.prefilter_lookbehind)
                elif nat is not None and c.det.start_chars:
                    back = c.det.prefilter_lookbehind
                    matches = nat.matches_back(c.regex.match, text, at, back, c.det.start_chars)
                else:
                    matches = self._matches_at(c, text, at)
            else:
                matches = c.regex.finditer(text)
            if nat is not None:
                nat.confirm(
                    self._spec[idx], self._eng, leaves, text, starts, matches, hits, bare_ok, taken
                )
            else:
                self._confirm_one(c, leaves, text, starts, matches, hits, bare_ok, taken)
        if hits:  # (natively: in_uuid only asked of hits beside a hex digit or a dash)
            hits = (
                _outside_uuids(hits, leaves)
                if nat is None
                else nat.outside_uuids(hits, leaves, in_uuid)
            )
        if nat is not None:  # the same sort and loop without a Python frame per hit
            kept: list[Hit] | None = nat.resolve_overlaps(hits)
            if kept is not None:
                return kept
        return resolve_overlaps(hits)

    def _order(self, idx: int) -> tuple[bool, float, int]:
        if idx >= len(self._compiled):
            return (True, 0.0, idx)
        det = self._compiled[idx].det
        return (det.id.startswith("generic_"), -det.base, idx)

    def _context_matches(
        self,
        c: _Compiled,
        leaves: Sequence[ex.Leaf],
        text: str,
        starts: list[int],
        at: list[int],
        by_key: dict[str, list[int]],
    ) -> Iterator[Any]:
        """Matches of a context-required detector, only in the leaves where it can count.

        Such a value is reported only when its field's key names the type or a context word
        lies in the 48 characters before it (:meth:`_confidence`). So only those places are
        searched: a key-hit leaf whole, elsewhere the 48 characters after each context word.
        """
        words: dict[int, list[int] | None] = {}  # leaf -> context word offsets (None: whole)
        for key, lis in by_key.items():
            hit = c.key_hits.get(key)
            if hit is None:
                hit = _key_hit(c, key)
                _remember(c, key, hit)
            if hit:
                for li in lis:
                    words[li] = None
        n = starts[-1] + len(leaves[-1].text)
        for p in at:
            if p >= n:
                break  # the key names after the last leaf
            li = bisect_right(starts, p) - 1
            if p >= starts[li] + len(leaves[li].text):
                continue
            if li not in words:
                words[li] = [p]
            else:
                ps = words[li]
                if ps is not None:
                    ps.append(p)
        finditer = c.regex.finditer
        for li in sorted(words):
            base = starts[li]
            end = base + len(leaves[li].text)
            ps = words[li]
            if ps is None:
                yield from finditer(text, base, end)
                continue
            # From each context word up to 48 characters on (where a value can start and still
            # see the word in its window); the cursor never goes back, so nothing repeats.
            # ``far`` is the match that ended the last search (it starts beyond that word's
            # reach). It is the leftmost match at or after ``cur``, so a search from any later
            # position up to its start would find it first: later words that cannot reach it
            # need no search at all, and one that can takes it without searching again. That
            # keeps the work linear in the leaf (it was quadratic: many context words before
            # one distant value re-scanned the same stretch once per word).
            cur = base
            far: Any = None
            for p in ps:
                if p + 48 < cur:
                    continue
                lo = max(cur, p)
                if far is not None and far.start() >= lo:
                    if far.start() > p + 48:
                        continue  # still out of this word's reach
                    cur = far.end() if far.end() > far.start() else far.end() + 1
                    yield far
                    lo = far.end() if far.end() > far.start() else far.start() + 1
                far = None
                for m in finditer(text, lo, end):
                    if m.start() > p + 48:
                        far = m
                        break
                    cur = m.end() if m.end() > m.start() else m.end() + 1
                    yield m
                else:
                    break  # no further match anywhere in this leaf

    @staticmethod
    def _matches_at(c: _Compiled, text: str, offsets: list[int]) -> Iterator[Any]:
        """Matches starting at the prefilter's offsets (or, for a detector whose prefilter
        is a looser pattern, the match that covers the offset)."""
        if not c.det.prefilter:
            for p in offsets:
                if p < len(text):
                    m = c.regex.match(text, p)
                    if m is not None:
                        yield m
            return
        back = c.det.prefilter_lookbehind
        chars = c.det.start_chars
        last_end = -1
        for p in offsets:
            if p < last_end:
                continue
            if chars:
                lo = p
                while lo > 0 and p - lo < back and text[lo - 1] in chars:
                    lo -= 1
                for k in range(lo, p + 1):
                    m = c.regex.match(text, k)
                    if m is not None and m.end() > p:
                        last_end = m.end()
                        yield m
                        break
                continue
            for m in c.regex.finditer(text, max(0, p - back), min(len(text), p + 512)):
                if m.start() > p:
                    break
                if m.end() > p:
                    last_end = m.end()
                    yield m
                    break

    def _confirm_one(
        self,
        c: _Compiled,
        leaves: Sequence[ex.Leaf],
        text: str,
        starts: list[int],
        matches: Iterable[Any],
        out: list[Hit],
        bare_ok: bool = True,
        taken: dict[int, Spans] | None = None,
    ) -> None:
        det = c.det
        taken = {} if taken is None else taken
        for m in matches:
            s, e = m.span(c.group)
            if s < 0 or s == e:
                continue
            if not bare_ok and det.bare_needs_context and text[s:e].isalnum():
                continue
            li = bisect_right(starts, s) - 1
            leaf = leaves[li]
            base = starts[li]
            if e > base + len(leaf.text):
                continue  # crossed a leaf separator
            value = text[s:e]
            # Context first: it is cheaper than most validators (phone numbers especially).
            conf = self._confidence(c, leaf, s - base, value)
            if conf < self._floor:
                continue
            if inside_taken(taken.get(li), s, e, conf):
                continue  # inside a span a more specific detector already confirmed
            if det.validator is not None and not det.validator(value):
                continue
            if self._allow or self._allow_hash:
                cv = canonical(value)
                if cv in self._allow or (self._allow_hash and allow_digest(cv) in self._allow_hash):
                    continue
            out.append(Hit(li, s - base, e - base, conf, det))
            take(taken, li, s, e, conf)

    def _confidence(self, c: _Compiled, leaf: ex.Leaf, start: int, value: str) -> float:
        det = c.det
        key = leaf.key
        key_hit = False
        if key:
            # The same key names recur in every record of a page: remember the verdict.
            cached = c.key_hits.get(key)
            if cached is None:
                cached = _key_hit(c, key)
                _remember(c, key, cached)
            key_hit = cached
        word_hit = False
        if not key_hit and c.ctx is not None:
            window = leaf.text[max(0, start - 48) : start]
            word_hit = c.ctx.search(window) is not None
        if not (key_hit or word_hit) and (
            det.needs_context or (det.bare_needs_context and value.isalnum())
        ):
            return 0.0
        conf = det.base + (0.5 if key_hit else 0.35 if word_hit else 0.0)
        if det.separated_bonus and not value.isalnum():
            conf += det.separated_bonus
        if (
            det.short_len
            and (len(value) if value.isalnum() else sum(ch.isalnum() for ch in value))
            <= det.short_len
        ):
            conf -= 0.3
        # Numbers are ambiguous: an order id or a tracking number can pass a checksum. Values
        # with letters (emails, IBANs, NINOs) say what they are whatever the field is called.
        if (
            not (key_hit or word_hit)
            and det.category != "secret"
            and _NUMERIC.fullmatch(value) is not None
            and _looks_like_other_id(key, leaf.text, start)
        ):
            # A bare run of digits in an "id" field is most likely an id; a value written in
            # the type's own format (123-45-6789) only loses a little.
            conf -= 0.5 if value.isdigit() else 0.2
        return min(conf, 1.0)

    def _field_secrets(self, leaves: Sequence[ex.Leaf]) -> list[Hit]:
        det = self._compiled[self._field_secret].det
        out: list[Hit] = []
        # Keys first: a RawDoc then only builds the leaves whose key names a secret.
        keys = [leaf.key for leaf in leaves] if isinstance(leaves, list) else _keys(leaves)
        for li, key in enumerate(keys):
            if not key or not _SECRET_FIELD.search(key) or _NOT_SECRET_FIELD.search(key):
                continue
            leaf = leaves[li]
            value = leaf.text.strip()
            if not value or value.lower() in _REDACTED_LOOKING or set(value) <= set("*xX•#-"):
                continue
            if value.startswith(("${", "{{", "<", "%", "$(")) or not not_placeholder(value):
                continue
            if _PASSWORD_FIELD.search(leaf.key):
                ok = len(value) >= 4
            else:
                ok = 16 <= len(value) <= 4096 and " " not in value and shannon_entropy(value) >= 3.0
            if ok:
                off = leaf.text.index(value)
                out.append(Hit(li, off, off + len(value), det.base, det))
        return out

    # -- helpers for tests and tools ------------------------------------------------------------

    def to_json(self, result: ScanResult) -> bytes:
        return orjson.dumps(result.to_dict())


def _mask_key_paths(an: Analysis, result: ScanResult) -> ScanResult:
    """Findings never show a value in clear, and a key can be one (``{"4556…": 1}``, maps keyed
    by e-mail): when a key leaf holds a finding, every path through that key shows it masked
    (the finding's preview over its span; a normalised key wholly), and the key's own finding
    has the path of its value with ``~`` after it (JSONPath-Plus: the property name)."""
    if not an.hits:
        return result
    leaves = an.leaves
    keyed = [(i, h) for i, h in enumerate(an.hits) if leaves[h.leaf].ref == ex.KEY_REF]
    if not keyed:
        return result
    shown: dict[str, str] = {}
    for i, h in keyed:
        leaf = leaves[h.leaf]
        raw = leaf.path[-1]
        if not isinstance(raw, str):
            continue
        cur = shown.get(raw)
        if leaf.text != raw:  # normalised: offsets do not map onto the raw key
            shown[raw] = "*" * len(raw)
            continue
        chars = list(cur if cur is not None else raw)
        f = result.findings[i]
        span = h.end - h.start
        chars[h.start : h.end] = list(f.preview if len(f.preview) == span else "*" * span)
        shown[raw] = "".join(chars)
    key_rows = {i for i, _h in keyed}
    findings = []
    for i, f in enumerate(result.findings):
        parts = tuple(shown.get(p, p) if isinstance(p, str) else p for p in f.path_parts)
        if parts != f.path_parts or i in key_rows:
            path = ex.format_path(parts) + ("~" if i in key_rows else "")
            f = replace(f, path=path, path_parts=parts)
        findings.append(f)
    return replace(result, findings=tuple(findings))


def allow_digest(value: str) -> str:
    """SHA-256 hex of a value's canonical form: how allow-listed values are stored."""
    return hashlib.sha256(canonical(value).encode("utf-8", "surrogatepass")).hexdigest()


def _offsets(
    offsets: set[int],
    to_char: Callable[[int], int] | None,
    at_of: dict[int, list[int]] | None,
    idx: int,
) -> list[int]:
    """A detector's candidate offsets as sorted str offsets."""
    if at_of is not None:
        return at_of[idx]
    return sorted(offsets) if to_char is None else sorted(map(to_char, offsets))


def _keys(leaves: Sequence[ex.Leaf]) -> list[str]:
    """Every leaf's key words; a native ``RawDoc`` reads them without building the leaves."""
    keys = getattr(leaves, "keys", None)
    if keys is None:
        return [leaf.key for leaf in leaves]
    got: list[str] = keys()
    return got


def _by_key(leaves: Sequence[ex.Leaf]) -> dict[str, list[int]]:
    """Leaf indices by key words (leaves without a key left out), in leaf order."""
    by_key: dict[str, list[int]] = {}
    for li, leaf in enumerate(leaves):
        if leaf.key:
            by_key.setdefault(leaf.key, []).append(li)
    return by_key


def _key_hit(c: _Compiled, key: str) -> bool:
    """Does a field's key (normalised words) name this detector's type?"""
    if c.short_keys and any(t in c.short_keys for t in key.split()):
        return True
    if c.long_keys:
        joined = key.replace(" ", "")
        if any(k in joined for k in c.long_keys):
            return True
    return c.ctx is not None and c.ctx.search(key) is not None


def _remember(c: _Compiled, key: str, hit: bool) -> None:
    """Cache a key-name verdict (bounded: entries, and the length of what is kept)."""
    if len(key) > ex.CACHE_KEY_LEN:
        return
    if len(c.key_hits) >= _KEY_CACHE:
        c.key_hits.clear()
    c.key_hits[key] = hit


def _negative_key(key: str) -> bool:
    if len(key) > ex.CACHE_KEY_LEN:
        return _negative_key_words(key)
    return _negative_key_cached(key)


def _negative_key_words(key: str) -> bool:
    return not _NEGATIVE_KEY_WORDS.isdisjoint(key.split())


_negative_key_cached = lru_cache(maxsize=4096)(_negative_key_words)


def _looks_like_other_id(key: str, text: str, start: int) -> bool:
    """Key or preceding words say "order", "invoice", "tracking"...: probably not personal."""
    if key and _negative_key(key):
        return True
    return _NEGATIVE_WINDOW.search(text, max(0, start - 32), start) is not None
