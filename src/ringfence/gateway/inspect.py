"""The DLP stage's interface: an ``Inspector`` finds data types in text; the gateway decides.

The gateway talks to classification through this small protocol so the hot path stays the
same whichever engine is plugged in: ``BuiltinInspector`` (email, payment card with Luhn, AWS
access key id — enough to enforce clearance on its own) or the classification engine's adapter
(``ClassifyInspector``) when ``ringfence.classify`` is available. A ``Hit`` carries the data
type and its span; callers must never log or put the matched value into an event or an error.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol
from urllib.parse import parse_qsl, unquote_plus, urlencode

import orjson

from ringfence.classify import in_uuid
from ringfence.core.levels import DataClass
from ringfence.core.logging import get_logger

if TYPE_CHECKING:
    from ringfence.store.db import Store

_log = get_logger("ringfence.gateway.dlp")


@dataclass(frozen=True, slots=True)
class Hit:
    type_id: str
    data_class: DataClass
    start: int
    end: int


class Inspector(Protocol):
    """Finds sensitive data types in a text; must be safe to call from many tasks."""

    def scan(self, text: str) -> list[Hit]: ...


FORM = "application/x-www-form-urlencoded"


def media_type(content_type: str) -> str:
    """The media type of a Content-Type value, without parameters, lower case."""
    return content_type.split(";", 1)[0].strip().lower()


_UTF8_CHARSETS = frozenset({"", "utf-8", "utf8", "us-ascii", "ascii"})
# Single-byte charsets that read ASCII bytes as ASCII: a body that is valid UTF-8 reads the
# same in them as far as DLP's patterns go (its other bytes become accented letters).
_ASCII_SUPERSETS = re.compile(r"(?:iso-?8859-\d{1,2}|latin-?1|l1|windows-125\d|cp125\d)\Z")


def _charset(content_type: str) -> str:
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').strip().lower()
    return ""


def unreadable_charset(content_type: str) -> str | None:
    """``unreadable_text``'s verdict on the declared charset alone (None: readable)."""
    charset = _charset(content_type)
    if charset not in _UTF8_CHARSETS and not _ASCII_SUPERSETS.match(charset):
        return f"charset {charset[:40]}"  # UTF-16/32, UTF-7 ("+AEA-" is "@"), EBCDIC, ...
    return None


def unreadable_text(body: bytes, content_type: str) -> str | None:
    """Why DLP cannot read ``body`` as the UTF-8 text it scans, or None: a declared charset
    other than UTF-8 / ASCII, or NUL bytes. UTF-16 or UTF-32 text in the ASCII range is valid
    UTF-8 byte for byte (a NUL between the letters), so without this check
    ``ann@corp.example`` in UTF-16 passes a scan that finds it in UTF-8."""
    why = unreadable_charset(content_type)
    if why is not None:
        return why
    if body.find(b"\x00") >= 0:
        return "NUL bytes"
    return None


class ResponseType(NamedTuple):
    """An upstream Content-Type value as ``Gateway._forward`` reads it."""

    ctype: str  # the value as text (latin-1)
    media: str  # ``media_type``
    strict_json: bool  # application/json, text/json or +json
    charset_problem: str | None  # ``unreadable_charset``


def _read_response_type(raw: bytes) -> ResponseType:
    ctype = raw.decode("latin-1")
    media = media_type(ctype)
    strict = media in ("application/json", "text/json") or media.endswith("+json")
    return ResponseType(ctype, media, strict, unreadable_charset(ctype))


# An upstream sends the same one or two Content-Type values on every answer: their reading
# is kept (bounded: short values only, and reset when full).
_RESPONSE_TYPES: dict[bytes, ResponseType] = {}
NO_TYPE = _read_response_type(b"")


def response_type_of(raw: bytes) -> ResponseType:
    """``_read_response_type``, remembered for short values."""
    known = _RESPONSE_TYPES.get(raw)
    if known is None:
        known = _read_response_type(raw)
        if len(raw) <= 128:
            if len(_RESPONSE_TYPES) >= 256:
                _RESPONSE_TYPES.clear()
            _RESPONSE_TYPES[raw] = known
    return known


def is_form(content_type: str) -> bool:
    """A form-encoded body: its upstream reads ``%40`` as ``@`` and ``+`` as a space, so it is
    inspected decoded (percent-encoding must not hide data from DLP)."""
    return media_type(content_type) == FORM


# Response media types inspected as text besides text/* and JSON (binary ones are not).
_TEXTUAL = frozenset(
    {
        FORM,
        "application/xml",
        "application/csv",
        "application/x-ndjson",
        "application/ndjson",
        "application/javascript",
        "application/yaml",
        "application/x-yaml",
        "application/graphql",
    }
)


def textual(content_type: str) -> bool:
    """A body DLP reads as text: none declared, text/*, XML (``+xml``), form, CSV, NDJSON, ..."""
    media = media_type(content_type)
    return not media or media.startswith("text/") or media.endswith("+xml") or media in _TEXTUAL


# A part header of a multipart body (at any depth) naming its transfer encoding.
_PART_ENCODING = re.compile(rb"(?im)^content-transfer-encoding[ \t]*:[ \t]*([^\r\n]*)")
_READABLE_ENCODINGS = frozenset({b"7bit", b"8bit", b"binary", b""})


def hidden_part_encoding(body: bytes, content_type: str) -> str | None:
    """For a multipart body: the first part transfer encoding DLP would not see through
    (``base64``, ``quoted-printable``: ``ann=40corp.example`` is an email to the receiver),
    else None. RFC 7578 forbids them in ``multipart/form-data``, so a legitimate sender never
    needs one; a body that has one is refused rather than scanned as the text it is not."""
    if not media_type(content_type).startswith("multipart/"):
        return None
    for m in _PART_ENCODING.finditer(body):
        value = m.group(1).strip().lower()
        if value not in _READABLE_ENCODINGS:
            return value[:40].decode("latin-1")
    return None


def scan_bytes(
    inspector: Inspector, data: bytes, text: str | None, content_type: str = "text/plain"
) -> list[Hit]:
    """``inspector.scan(text)`` where ``data`` is ``text`` UTF-8 encoded, without re-encoding
    (``text`` None: decoded here, only if the inspector reads text).

    Inspectors with a ``scan_bytes`` method (both built-in ones) scan the raw body bytes so a
    clean body is cleared by the byte-level prefilter alone, and get the content type (the
    classification engine reads a JSON body field by field: key names are context; a form
    body is decoded first); others get the text, a form body's decoded.
    """
    fast = getattr(inspector, "scan_bytes", None)
    if fast is not None:
        return fast(data, content_type)  # type: ignore[no-any-return]
    if text is None:
        text = data.decode("utf-8")
    return inspector.scan(unquote_plus(text) if is_form(content_type) else text)


def redact_form(text: str, inspector: Inspector) -> str:
    """A form body with every name and value redacted as text, encoded again."""
    return urlencode(
        [
            (redact_text(k, inspector.scan(k)), redact_text(v, inspector.scan(v)))
            for k, v in parse_qsl(text, keep_blank_values=True)
        ]
    )


def redact_bytes(
    inspector: Inspector, data: bytes, content_type: str
) -> tuple[bytes, dict[str, int]] | None:
    """The body with what ``scan_bytes`` found replaced by ``[REDACTED:<type>]``, by the
    inspector itself when it can (from the same analysis as its verdict, so a value found
    only through its context — an SSN under an ``ssn`` key — is redacted too); None: the
    caller redacts string by string."""
    own = getattr(inspector, "redact_bytes", None)
    return None if own is None else own(data, content_type)


def luhn_ok(digits: str) -> bool:
    nums = [int(c) for c in digits if c.isdigit()]
    if not 13 <= len(nums) <= 19:
        return False
    total = 0
    for i, n in enumerate(reversed(nums)):
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


_CLASSES = {
    "email_address": DataClass.CONFIDENTIAL,
    "aws_access_key_id": DataClass.RESTRICTED,
    "credit_card_number": DataClass.RESTRICTED,
}
_EMAIL_LEFT = re.compile(r"[A-Za-z0-9._%+-]{1,64}\Z")
_EMAIL_RIGHT = re.compile(r"[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}\b")
_AWS = re.compile(r"(?<![0-9A-Z])A(?:KIA|SIA|BIA|CCA)[0-9A-Z]{16}(?![0-9A-Z])")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
# Prefilter patterns (one multi-pattern pass): which detectors can possibly match at all.
_PREFILTER = (rb"@", rb"A(?:KIA|SIA|BIA|CCA)[0-9A-Z]{16}", rb"\d[\d -]{11,22}\d")


class _Prefilter:
    """Hyperscan (or RE2) multi-pattern scan answering "which detectors may match"."""

    def __init__(self) -> None:
        self._hs: Any = None
        try:
            import hyperscan

            db = hyperscan.Database()
            db.compile(
                expressions=list(_PREFILTER),
                ids=list(range(len(_PREFILTER))),
                elements=len(_PREFILTER),
                flags=[hyperscan.HS_FLAG_SINGLEMATCH] * len(_PREFILTER),
            )
            self._hs = db
        except Exception:  # no hyperscan on this platform: RE2 is still linear-time
            import re2

            self._re2 = [re2.compile(p.decode()) for p in _PREFILTER]

    def candidates(self, data: bytes) -> set[int]:
        if self._hs is not None:
            found: set[int] = set()

            def on_match(pid: int, _s: int, _e: int, _f: int, _c: Any) -> None:
                found.add(pid)

            self._hs.scan(data, match_event_handler=on_match)
            return found
        text = data.decode("utf-8", "replace")
        return {i for i, rx in enumerate(self._re2) if rx.search(text)}


class BuiltinInspector:
    """Email, payment card (Luhn-validated, not inside a UUID) and AWS access key id detectors.

    A multi-pattern prefilter runs over every body; the precise (Python) detectors run only
    for the types the prefilter saw, so a clean 4 KiB body costs a few microseconds.
    """

    def __init__(self) -> None:
        self._prefilter = _Prefilter()

    def scan(self, text: str) -> list[Hit]:
        return self._scan(text.encode("utf-8", "surrogatepass"), text)

    def scan_bytes(self, data: bytes, content_type: str = "text/plain") -> list[Hit]:
        """The same as ``scan(data.decode())`` without re-encoding the text (its detectors
        need no context: every content type is scanned as text, a form body decoded)."""
        if is_form(content_type):
            return self.scan(unquote_plus(data.decode("utf-8", "surrogatepass")))
        if b"\\u" in data and "json" in media_type(content_type):
            data = _unescaped_json(data)
        return self._scan(data, data.decode("utf-8", "surrogatepass"))

    def _scan(self, data: bytes, text: str) -> list[Hit]:
        kinds = self._prefilter.candidates(data)
        if not kinds:
            return []
        hits: list[Hit] = []
        if 0 in kinds:
            i = text.find("@")
            while i != -1:
                left = _EMAIL_LEFT.search(text, max(0, i - 64), i)
                right = _EMAIL_RIGHT.match(text, i + 1) if left else None
                if left and right:
                    hits.append(
                        Hit("email_address", _CLASSES["email_address"], left.start(), right.end())
                    )
                i = text.find("@", i + 1)
        if 1 in kinds:
            hits.extend(
                Hit("aws_access_key_id", _CLASSES["aws_access_key_id"], m.start(), m.end())
                for m in _AWS.finditer(text)
            )
        if 2 in kinds:
            hits.extend(
                Hit("credit_card_number", _CLASSES["credit_card_number"], m.start(), m.end())
                for m in _CARD.finditer(text)
                if luhn_ok(m.group()) and not in_uuid(text, m.start(), m.end())
            )
        return hits


def _unescaped_json(data: bytes) -> bytes:
    """A JSON body written again without ``\\uXXXX`` escapes (``john\\u0040acme.io`` hid the
    address from a text scan), or as it is when no JSON reader takes it."""
    try:
        return orjson.dumps(orjson.loads(data))
    except (orjson.JSONDecodeError, TypeError):
        pass
    try:  # lone surrogates, NaN: what orjson refuses and other readers take
        text = json.dumps(json.loads(data.decode("utf-8", "surrogatepass")), ensure_ascii=False)
    except (ValueError, RecursionError):
        return data
    return text.encode("utf-8", "surrogatepass")


SHORT_BODY = 256  # bytes: ClassifyInspector remembers the gate's verdict on bodies this short
SHORT_VERDICTS = 4096  # ... for at most this many distinct bodies (then it starts again)


class ClassifyInspector:
    """Adapter over the classification engine (``ringfence.classify.Classifier``)."""

    def __init__(self, classifier: Any) -> None:
        self._classifier = classifier
        # The engine's raw-body gate, the first thing ``Classifier.scan`` does with a plain
        # body: asking it here skips building an empty ScanResult for a clean body (absent in
        # another engine version: every body is scanned).
        self._may_find: Any = getattr(classifier, "may_find", None)
        # The gate's verdicts on short bodies (see ``scan_bytes``), bounded.
        self._short_verdicts: dict[bytes, bool] = {}

    def scan(self, text: str) -> list[Hit]:
        return self.scan_bytes(text.encode("utf-8", "surrogatepass"))

    def scan_bytes(self, data: bytes, content_type: str = "text/plain") -> list[Hit]:
        """Classify a body: ``text/plain`` as one text (offsets into it), JSON field by field
        (key names are context; offsets are within each field, so a JSON body is redacted
        with ``redact_bytes``, never by offsets)."""
        may_find = self._may_find
        # (a form body is decoded by the engine, which applies its own gate to what it reads)
        plain = content_type == "application/json" or not is_form(content_type)
        if may_find is not None and plain:
            if len(data) <= SHORT_BODY and type(data) is bytes:
                # The gate answers for the bytes alone and this classifier never changes: the
                # verdict on a short body — an upstream's {"ok":true}, an empty list, an
                # error object, sent again and again — is remembered instead of asking the
                # engine each time (a call of ≈ 5k instructions for a few bytes).
                verdicts = self._short_verdicts
                found = verdicts.get(data)
                if found is None:
                    found = bool(may_find(data))
                    if len(verdicts) >= SHORT_VERDICTS:
                        verdicts.clear()
                    verdicts[data] = found
                if not found:
                    return []
            elif not may_find(data):
                return []
        result = self._classifier.scan(data, content_type)
        return [
            Hit(str(f.type_id), DataClass.parse(f.data_class), int(f.start), int(f.end))
            for f in result.findings
        ]

    def redact_bytes(self, data: bytes, content_type: str) -> tuple[bytes, dict[str, int]]:
        """The body with every confident finding replaced by ``[REDACTED:<type>]``: the same
        analysis as ``scan_bytes`` (JSON stays valid JSON)."""
        from ringfence.classify import RedactionMode, RedactionPolicy, redact

        done = redact(
            data,
            content_type,
            RedactionPolicy(default=RedactionMode.LABEL),
            classifier=self._classifier,
        )
        counts: dict[str, int] = {}
        for f in done.result.findings:
            counts[str(f.type_id)] = counts.get(str(f.type_id), 0) + 1
        return done.body, counts


def default_inspector(engine: str = "builtin", store: Store | None = None) -> Inspector:
    """``builtin`` (fast prefiltered email/card/AWS) or ``classify`` (the full DLP catalogue).

    With ``classify`` and a store, the ``classify:`` section of ringfence.yaml (custom RE2
    detectors, allow-listed test values) is compiled in once, at gateway start: a stored
    detector that no longer loads raises ``ConfigError`` so the gateway refuses to start
    rather than inspecting with a weaker classifier (fail closed). Changes to that section take
    effect when the gateway restarts.
    """
    if engine == "classify":
        if store is not None:
            from ringfence.classify import Classifier
            from ringfence.classify.stored import load_stored_config

            with store.session() as session:
                cfg = load_stored_config(session)
            if cfg.detectors or cfg.allow_sha256:
                _log.info("dlp_custom_config", entries=list(cfg.entries))
                return ClassifyInspector(
                    Classifier(custom=cfg.detectors, allow_sha256=cfg.allow_sha256)
                )
        return _shared_classify_inspector()
    return BuiltinInspector()


@functools.cache
def _shared_classify_inspector() -> ClassifyInspector:
    # Building the catalogue takes seconds (pattern compilation); one per process, thread-safe.
    from ringfence.classify import Classifier

    return ClassifyInspector(Classifier())


def redact_text(text: str, hits: list[Hit]) -> str:
    """Replace each hit with ``[REDACTED:<type>]`` (hits from one ``scan`` of ``text``)."""
    if not hits:
        return text
    parts: list[str] = []
    pos = 0
    for h in sorted(hits, key=lambda h: h.start):
        if h.start < pos:
            continue
        parts.append(text[pos : h.start])
        parts.append(f"[REDACTED:{h.type_id}]")
        pos = h.end
    parts.append(text[pos:])
    return "".join(parts)


def redact_json(value: Any, inspector: Inspector) -> tuple[Any, dict[str, int]]:
    """Redact every string (and card-like integer) inside a parsed JSON value."""
    counts: dict[str, int] = {}

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            hits = inspector.scan(v)
            for h in hits:
                counts[h.type_id] = counts.get(h.type_id, 0) + 1
            return redact_text(v, hits)
        if isinstance(v, bool):
            return v
        if isinstance(v, int):
            hits = inspector.scan(str(v))
            if hits:
                for h in hits:
                    counts[h.type_id] = counts.get(h.type_id, 0) + 1
                return redact_text(str(v), hits)
            return v
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        return v

    return walk(value), counts
