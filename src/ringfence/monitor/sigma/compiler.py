"""Compile a pySigma condition tree into a plain Python predicate over the event view.

pySigma parses the rule and applies the value modifiers (contains, base64offset, windash ...);
this module turns the resulting typed values into closures, once per rule, so matching an
event is a few dict lookups and string comparisons. Regular expressions run on RE2 (linear
time, untrusted rules cannot cause catastrophic backtracking). A construct we cannot evaluate
raises ``Unsupported`` naming it; the engine reports it per rule and never guesses.
"""

from __future__ import annotations

import ipaddress
import itertools
import operator
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import re2
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
    TimestampPart,
)

from ringfence.monitor.sigma.fields import Getter, getter

Predicate = Callable[[Any], bool]
ValueTest = Callable[[Any], bool]


# Per pattern, answers for short texts are remembered: event fields a pattern runs on (paths,
# event types, user agents) repeat a lot. Bounded: texts up to _MEMO_TEXT characters, at most
# _MEMO_SIZE answers per pattern, then the memo starts over. A remembered answer is the answer.
_MEMO_TEXT = 256
_MEMO_SIZE = 4096


def _re2_test(pattern: str, *, full: bool) -> Callable[[str], bool]:
    """A yes/no RE2 test, remembered for short texts (see ``_MEMO_TEXT``)."""
    return _re2_memo(pattern, full=full)[0]


def _re2_memo(pattern: str, *, full: bool) -> tuple[Callable[[str], bool], dict[str, bool]]:
    """The remembered RE2 test and its memo (generated plans read the memo inline first)."""
    test = _re2_match(pattern, full=full)
    memo: dict[str, bool] = {}

    def remembered(t: str) -> bool:
        answer = memo.get(t)
        if answer is None:
            answer = test(t)
            if len(t) <= _MEMO_TEXT:
                if len(memo) >= _MEMO_SIZE:
                    memo.clear()
                memo[t] = answer
        return answer

    return remembered, memo


def _re2_match(pattern: str, *, full: bool) -> Callable[[str], bool]:
    """A yes/no RE2 test. Calls the binding's ``Match`` directly: the public ``search`` builds
    match objects and offset maps we never use (3x the cost on short strings)."""
    rx = re2.compile(pattern)
    low = getattr(rx, "_regexp", None)
    anchors = getattr(re2, "_Anchor", None)
    if low is None or anchors is None:  # a binding without the private API: public calls
        if full:
            return lambda t: rx.fullmatch(t) is not None
        return lambda t: rx.search(t) is not None
    anchor = anchors.ANCHOR_BOTH if full else anchors.UNANCHORED
    match = low.Match

    def test(t: str) -> bool:
        b = t.encode("utf-8", "surrogatepass")
        return bool(match(anchor, b, 0, len(b))[0][0] != -1)

    return test


class Unsupported(Exception):
    """A Sigma construct this engine does not evaluate (reported per rule)."""


def _as_text(v: Any) -> str | None:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    return None


def _as_number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            return None
    return None


# -- strings --------------------------------------------------------------------------------
def _expand_placeholders(
    s: SigmaString, placeholders: Mapping[str, Sequence[str]]
) -> list[list[Any]]:
    options: list[list[Any]] = []
    for part in s.s:
        if isinstance(part, Placeholder):
            if part.name not in placeholders:
                raise Unsupported(f"placeholder %{part.name}% has no configured values")
            options.append([str(v) for v in placeholders[part.name]])
        else:
            options.append([part])
    return [list(combo) for combo in itertools.product(*options)]


def _string_test(parts: list[Any], cased: bool) -> ValueTest:
    # merge adjacent plain strings
    merged: list[Any] = []
    for p in parts:
        if isinstance(p, str) and merged and isinstance(merged[-1], str):
            merged[-1] += p
        else:
            merged.append(p)
    multi, single = SpecialChars.WILDCARD_MULTI, SpecialChars.WILDCARD_SINGLE
    plain = [p for p in merged if isinstance(p, str)]
    norm: Callable[[str], str] = (lambda x: x) if cased else str.lower
    if not any(isinstance(p, SpecialChars) for p in merged):
        want = norm("".join(plain))
        return lambda v: (t := _as_text(v)) is not None and norm(t) == want
    if merged == [multi]:
        return lambda v: _as_text(v) is not None
    if single not in merged and len(plain) == 1:
        needle = norm(plain[0])
        if merged == [multi, plain[0], multi]:
            return lambda v: (t := _as_text(v)) is not None and needle in norm(t)
        if merged == [plain[0], multi]:
            return lambda v: (t := _as_text(v)) is not None and norm(t).startswith(needle)
        if merged == [multi, plain[0]]:
            return lambda v: (t := _as_text(v)) is not None and norm(t).endswith(needle)
    pattern = "".join(".*" if p is multi else "." if p is single else re2.escape(p) for p in merged)
    rx = _re2_test(("(?s)" if cased else "(?is)") + pattern, full=True)
    return lambda v: (t := _as_text(v)) is not None and rx(t)


def _string_kind(value: Any) -> tuple[str, str] | None:
    """``(kind, lower-case needle)`` for a case-insensitive plain string value whose test is a
    single str method: ``eq``, ``contains``, ``startswith``, ``endswith``; else None."""
    if type(value) is not SigmaString or value.contains_placeholder():  # not SigmaCasedString
        return None
    merged: list[Any] = []
    for p in value.s:
        if isinstance(p, str) and merged and isinstance(merged[-1], str):
            merged[-1] += p
        else:
            merged.append(p)
    plain = [p for p in merged if isinstance(p, str)]
    if not any(isinstance(p, SpecialChars) for p in merged):
        return "eq", "".join(plain).lower()
    multi = SpecialChars.WILDCARD_MULTI
    if len(plain) != 1 or SpecialChars.WILDCARD_SINGLE in merged:
        return None
    needle = plain[0].lower()
    if merged == [multi, plain[0], multi]:
        return "contains", needle
    if merged == [plain[0], multi]:
        return "startswith", needle
    if merged == [multi, plain[0]]:
        return "endswith", needle
    return None


@dataclass(frozen=True)
class FusedSpec:
    """What a fused value list tests: a set of numbers, or lower-case strings by str method."""

    nums: frozenset[float] | None = None
    eqs: frozenset[str] = frozenset()
    contains: tuple[str, ...] = ()
    starts: tuple[str, ...] = ()
    ends: tuple[str, ...] = ()


def fused_spec(values: Sequence[Any]) -> FusedSpec | None:
    """The fused form of "field equals any of ``values``" when every value is a plain
    case-insensitive string (eq / contains / startswith / endswith) or every value is a number;
    None when that does not apply."""
    if values and all(type(v) is SigmaNumber for v in values):  # not SigmaTimestampPart
        return FusedSpec(nums=frozenset(float(v.number) for v in values))
    kinds = [k for v in values if (k := _string_kind(v)) is not None]
    if not kinds or len(kinds) != len(values):
        return None
    return FusedSpec(
        eqs=frozenset(n for k, n in kinds if k == "eq"),
        contains=tuple(n for k, n in kinds if k == "contains"),
        starts=tuple(n for k, n in kinds if k == "startswith"),
        ends=tuple(n for k, n in kinds if k == "endswith"),
    )


def fused_test(values: Sequence[Any]) -> Callable[[Getter], Predicate] | None:
    """One predicate for "field equals any of ``values``" (see ``fused_spec``): the field is
    read once, each value lower-cased once, and the comparisons are set lookups and str
    methods instead of one closure call per value. None when that does not apply."""
    spec = fused_spec(values)
    if spec is None:
        return None
    if spec.nums is not None:
        nums = spec.nums

        def build_num(get: Getter) -> Predicate:
            def num_in(d: Any) -> bool:
                for v in get(d):
                    x = _as_number(v)
                    if x is not None and x in nums:
                        return True
                return False

            return num_in

        return build_num
    eqs, contains, starts, ends = spec.eqs, spec.contains, spec.starts, spec.ends

    def build(get: Getter) -> Predicate:
        if not (contains or starts or ends):

            def eq_any(d: Any) -> bool:
                for v in get(d):
                    t = v if type(v) is str else _as_text(v)
                    if t is not None and t.lower() in eqs:
                        return True
                return False

            return eq_any

        def text_any(d: Any) -> bool:
            for v in get(d):
                t = v if type(v) is str else _as_text(v)
                if t is None:
                    continue
                t = t.lower()
                if t in eqs or (starts and t.startswith(starts)):
                    return True
                if ends and t.endswith(ends):
                    return True
                for n in contains:
                    if n in t:
                        return True
            return False

        return text_any

    return build


def _sigma_string(value: SigmaString, placeholders: Mapping[str, Sequence[str]]) -> ValueTest:
    cased = isinstance(value, SigmaCasedString)
    if value.contains_placeholder():
        tests = [_string_test(parts, cased) for parts in _expand_placeholders(value, placeholders)]
        return lambda v: any(t(v) for t in tests)
    return _string_test(list(value.s), cased)


def _regex(value: SigmaRegularExpression) -> ValueTest:
    rx = regex_text_test(value)
    return lambda v: (t := _as_text(v)) is not None and rx(t)


def regex_text_test(value: SigmaRegularExpression) -> Callable[[str], bool]:
    """The (remembered) RE2 search of a Sigma ``re`` value, on text."""
    return regex_text_memo(value)[0]


def regex_text_memo(
    value: SigmaRegularExpression,
) -> tuple[Callable[[str], bool], dict[str, bool]]:
    """``regex_text_test`` and the memo of its answers (text → answer)."""
    flags = ""
    if SigmaRegularExpressionFlag.IGNORECASE in value.flags:
        flags += "i"
    if SigmaRegularExpressionFlag.MULTILINE in value.flags:
        flags += "m"
    if SigmaRegularExpressionFlag.DOTALL in value.flags:
        flags += "s"
    pattern = value.regexp.to_plain()
    try:
        return _re2_memo((f"(?{flags})" if flags else "") + pattern, full=False)
    except Exception as exc:  # re2.error: backreferences, lookaround ...
        raise Unsupported(f"regular expression {pattern!r} is not RE2-compatible: {exc}") from None


_OPS: dict[CompareOperators, Callable[[float, float], bool]] = {
    CompareOperators.LT: operator.lt,
    CompareOperators.LTE: operator.le,
    CompareOperators.GT: operator.gt,
    CompareOperators.GTE: operator.ge,
}


def _in_network(net: ipaddress.IPv4Network | ipaddress.IPv6Network, text: str) -> bool:
    try:
        return ipaddress.ip_address(text) in net
    except ValueError:
        return False


def _cidr_test(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> ValueTest:
    """``cidr``: is the text an address inside ``net``. For an IPv4 network, a dotted quad is
    read by ``inet_pton`` (strict like ``ipaddress``: four decimal octets, no leading zeros;
    ~4x cheaper than building an address object); any other text goes to ``ipaddress``."""
    if net.version != 4:
        return lambda v: isinstance(v, str) and _in_network(net, v.strip())
    low, mask = int(net.network_address), int(net.netmask)
    pton, v4 = socket.inet_pton, socket.AF_INET

    def in_net(v: Any) -> bool:
        if not isinstance(v, str):
            return False
        text = v.strip()
        try:
            packed = pton(v4, text)
        except (OSError, ValueError):  # not a dotted quad (IPv6, garbage, NUL, non-ASCII)
            return _in_network(net, text)
        return int.from_bytes(packed, "big") & mask == low

    return in_net


def _time_part(v: Any, part: TimestampPart) -> int | None:
    t: datetime | None = None
    if isinstance(v, int | float) and not isinstance(v, bool):
        t = datetime.fromtimestamp(v / 1000 if v > 1e11 else v, UTC)
    elif isinstance(v, str):
        try:
            t = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            return None
    if t is None:
        return None
    return {
        TimestampPart.MINUTE: t.minute,
        TimestampPart.HOUR: t.hour,
        TimestampPart.DAY: t.day,
        TimestampPart.WEEK: t.isocalendar()[1],
        TimestampPart.MONTH: t.month,
        TimestampPart.YEAR: t.year,
    }[part]


def value_test(value: Any, placeholders: Mapping[str, Sequence[str]]) -> ValueTest:
    """A test of one event value against one Sigma value (not exists / fieldref / null)."""
    if isinstance(value, SigmaExpansion):
        tests = [value_test(v, placeholders) for v in value.values]
        return lambda v: any(t(v) for t in tests)
    if isinstance(value, SigmaString):
        return _sigma_string(value, placeholders)
    if isinstance(value, SigmaRegularExpression):
        return _regex(value)
    if isinstance(value, SigmaTimestampPart):
        want, part = int(value.number), value.timestamp_part
        return lambda v: _time_part(v, part) == want
    if isinstance(value, SigmaBool):
        b = bool(value.boolean)
        return lambda v: v is b if isinstance(v, bool) else _as_text(v) in (str(b).lower(),)
    if isinstance(value, SigmaNumber):
        n = float(value.number)
        return lambda v: _as_number(v) == n
    if isinstance(value, SigmaCIDRExpression):
        return _cidr_test(value.network)
    if isinstance(value, SigmaCompareExpression):
        if value.op not in _OPS:
            raise Unsupported(f"comparison operator {value.op.name}")
        op, n = _OPS[value.op], float(value.number.number)
        return lambda v: (x := _as_number(v)) is not None and op(x, n)
    raise Unsupported(f"value type {type(value).__name__}")


# -- tree -----------------------------------------------------------------------------------
class Compiler:
    """Compiles condition trees of rules of one log source ``product``."""

    def __init__(
        self, product: str | None, placeholders: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        self.product = product
        self.placeholders = placeholders or {}
        self._getters: dict[str, Getter] = {}

    def get(self, field: str) -> Getter:
        g = self._getters.get(field)
        if g is None:
            g = self._getters[field] = getter(self.product, field)
        return g

    def compile(self, node: Any) -> Predicate:
        if isinstance(node, ConditionAND):
            parts = [self.compile(a) for a in node.args]
            if len(parts) == 2:
                a, b = parts
                return lambda d: a(d) and b(d)

            def all_of(d: Any) -> bool:  # a loop: cheaper than all() over a generator
                for p in parts:  # noqa: SIM110
                    if not p(d):
                        return False
                return True

            return all_of
        if isinstance(node, ConditionOR):
            group = self._fused_or(node)
            if group is not None:
                return group
            parts = [self.compile(a) for a in node.args]
            if len(parts) == 2:
                a, b = parts
                return lambda d: a(d) or b(d)

            def any_of(d: Any) -> bool:
                for p in parts:  # noqa: SIM110
                    if p(d):
                        return True
                return False

            return any_of
        if isinstance(node, ConditionNOT):
            inner = self.compile(node.args[0])
            return lambda d: not inner(d)
        if isinstance(node, ConditionFieldEqualsValueExpression):
            return self._field(node.field, node.value)
        if isinstance(node, ConditionValueExpression):
            return self._keyword(node.value)
        raise Unsupported(f"condition element {type(node).__name__}")

    def _fused_or(self, node: ConditionOR) -> Predicate | None:
        """``field: [a, b, c]`` (an OR of values on one field) as one fused predicate."""
        args = [a for a in node.args if isinstance(a, ConditionFieldEqualsValueExpression)]
        if not args or len(args) != len(node.args) or len({a.field for a in args}) != 1:
            return None
        build = fused_test([a.value for a in args])
        return None if build is None else build(self.get(args[0].field))

    def _field(self, field: str, value: Any) -> Predicate:
        get = self.get(field)
        build = fused_test([value])
        if build is not None:
            return build(get)
        if isinstance(value, SigmaExists):
            want = bool(value.exists)
            return lambda d: (len(get(d)) > 0) is want
        if isinstance(value, SigmaNull):
            return lambda d: all(v is None for v in get(d))
        if isinstance(value, SigmaFieldReference):
            other = self.get(value.field)
            sw, ew = value.starts_with, value.ends_with

            def ref(d: Any) -> bool:
                mine = [t.lower() for v in get(d) if (t := _as_text(v)) is not None]
                theirs = [t.lower() for v in other(d) if (t := _as_text(v)) is not None]
                for a in mine:
                    for b in theirs:
                        if (sw and a.startswith(b)) or (ew and a.endswith(b)) or a == b:
                            return True
                return False

            return ref
        test = value_test(value, self.placeholders)

        def field_matches(d: Any) -> bool:
            for v in get(d):  # noqa: SIM110 - hot path: no generator
                if test(v):
                    return True
            return False

        return field_matches

    def _keyword(self, value: Any) -> Predicate:
        """A keyword (no field) matches when any string in the raw record contains it."""
        if isinstance(value, SigmaString) and not value.contains_special():
            needle = value.to_plain().lower()
            base: ValueTest = lambda v: isinstance(v, str) and needle in v.lower()  # noqa: E731
        else:
            base = value_test(value, self.placeholders)
        return lambda d: any(base(s) for s in _leaves(d.get("raw", d)))


def _leaves(doc: Any) -> Iterator[Any]:
    if isinstance(doc, dict):
        for v in doc.values():
            yield from _leaves(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _leaves(v)
    else:
        yield doc


def required_values(node: Any) -> tuple[str, frozenset[str]] | None:
    """A (field, plain lower-case values) every matching event must have, for the rule index."""
    if isinstance(node, ConditionFieldEqualsValueExpression):
        vals = node.value.values if isinstance(node.value, SigmaExpansion) else [node.value]
        out: set[str] = set()
        for v in vals:
            if (
                not isinstance(v, SigmaString)
                or isinstance(v, SigmaCasedString)
                or v.contains_special()
                or v.contains_placeholder()
            ):
                return None
            out.add("".join(p for p in v.s if isinstance(p, str)).lower())
        return node.field, frozenset(out)
    if isinstance(node, ConditionAND):
        for a in node.args:
            r = required_values(a)
            if r is not None:
                return r
        return None
    if isinstance(node, ConditionOR):
        found = [required_values(a) for a in node.args]
        if not found or any(f is None for f in found):
            return None
        fields = {f[0] for f in found if f is not None}
        if len(fields) != 1:
            return None
        return fields.pop(), frozenset().union(*(f[1] for f in found if f is not None))
    return None


def index_options(node: Any) -> list[tuple[tuple[str, frozenset[str]], list[Any]]]:
    """Every way to reach ``node`` through an equality index: (field, plain lower-case
    values) every matching event must have, and the rest of the condition once that equality
    holds (``[]``: the index alone decides). An event reaching a rule through the index
    already satisfies the indexed equality, so only the residual nodes (AND-ed) need
    evaluating."""
    if isinstance(node, ConditionAND):
        out = []
        for i, child in enumerate(node.args):
            others = [a for j, a in enumerate(node.args) if j != i]
            out += [(index, rest + others) for index, rest in index_options(child)]
        return out
    req = required_values(node)
    if req is None:
        return []
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return [(req, [])]
    if isinstance(node, ConditionOR) and all(
        isinstance(a, ConditionFieldEqualsValueExpression) for a in node.args
    ):
        return [(req, [])]  # plain equalities on one field: the index decides alone
    # an OR whose branches carry more conditions: the index narrows, the OR is still checked
    return [(req, [node])]


def split_index(
    node: Any, rank: Callable[[str], int] | None = None
) -> tuple[tuple[str, frozenset[str]], list[Any]] | None:
    """The index option of ``node`` whose field ranks highest (first on ties), or None.
    Rules of one log source that share an index field share one probe per event."""
    options = index_options(node)
    if not options:
        return None
    if rank is None:
        return options[0]
    best = max(rank(index[0]) for index, _ in options)
    return next(o for o in options if rank(o[0][0]) == best)
