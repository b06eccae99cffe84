"""A fast, exact answer to ``is_valid_number(parse("+<digits>"))`` for plain international numbers.

``phonenumbers`` is pure Python and general (RFC 3966, vanity letters, extensions, IDD
prefixes, national-prefix rewriting): about 25 µs per number, the largest single cost of a
typical contacts page. The phone detector's international candidates are much narrower — a
``+``, digits and a few separators — and for those ``parse`` + ``is_valid_number`` reduce to:
strip the separators, take the country calling code (1 to 3 digits, the first that exists), and
ask whether the rest matches the numbering plan of the region that owns it. This module does
exactly that from ``phonenumbers``' own metadata (the same regular expressions, each compiled
on first use as phonenumbers does, and the same possible lengths), and answers ``None`` — "ask
phonenumbers" — for anything outside that shape or on a path it does not replicate (a
national prefix that the parser might strip). ``tests/classify/test_phone.py`` holds it to
``phonenumbers`` on every region's example numbers, their mutations and generated input.

Only numbering-plan metadata is cached (compiled patterns per region), never a value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, REGION_CODE_FOR_NON_GEO_ENTITY, PhoneMetadata

from ringfence.classify._accel import NATIVE

# The native twin of the phone validator (_phone.inc.c) walks the same plans as tables; each
# plan and each calling code's plans are registered with it as this module computes them.
_NATIVE: Any = NATIVE if NATIVE is not None and hasattr(NATIVE, "phone_plan") else None

# "+", then digits, spaces, dots, hyphens and parentheses: what the detector's pattern yields.
_SHAPE = re.compile(r"\+[0-9][0-9 .\-()]*[0-9]")
_DROP = str.maketrans("", "", " .-()")
_digits: Callable[[str], str] | None = NATIVE.digits if NATIVE is not None else None
_MIN_NSN, _MAX_NSN = 2, 17
_UNSET: Any = object()
# The number type descriptions _number_type_helper tries after the general one. Any match
# makes the number valid, so the order is free: the common types first (mobile is skipped
# when the metadata says it is the fixed-line pattern).
_TYPES = (
    "mobile",
    "fixed_line",
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
)


class _Plan:
    """One region's numbering plan: its general description and the type descriptions, each
    a set of possible lengths and a pattern compiled on first use (as phonenumbers does)."""

    __slots__ = ("_general", "_types", "leading", "lengths", "native", "prefix")

    def __init__(self, md: Any) -> None:
        self.prefix = (
            re.compile(md.national_prefix_for_parsing) if md.national_prefix_for_parsing else None
        )
        self.leading = re.compile(md.leading_digits) if md.leading_digits is not None else None
        self._general = _Desc.of(md.general_desc)
        same = md.same_mobile_and_fixed_line_pattern  # then mobile adds nothing to fixed line
        descs = (_Desc.of(getattr(md, t)) for t in _TYPES if not (t == "mobile" and same))
        self._types = tuple(d for d in descs if d is not None)
        # The national number lengths this plan can accept at all (None: any, the general
        # description lists none); empty when it accepts nothing.
        general = self._general
        self.lengths: frozenset[int] | None = (
            frozenset() if general is None else general.lengths or None
        )
        # The same patterns and lengths for the native twin (its tables are built on first
        # use, like the patterns here).
        self.native: Any = None
        if _NATIVE is not None:
            self.native = _NATIVE.phone_plan(
                md.leading_digits,
                md.national_prefix_for_parsing or None,
                None if general is None else general._pattern,
                () if general is None else tuple(sorted(general.lengths)),
                tuple((d._pattern, tuple(sorted(d.lengths))) for d in self._types),
            )

    def valid(self, nsn: str) -> bool:
        """``_number_type_helper(nsn, md) != UNKNOWN``: the general description and any type."""
        general = self._general
        if general is None:
            return False
        n = len(nsn)
        # _Desc.matches and _Desc.fullmatch inlined (a method call per description was most
        # of the cost): a description's pattern is compiled on its first use
        lengths = general.lengths
        if lengths and n not in lengths:
            return False
        if (general.rx or general.compiled()).fullmatch(nsn) is None:
            return False
        for d in self._types:
            lengths = d.lengths
            if (not lengths or n in lengths) and (d.rx or d.compiled()).fullmatch(nsn) is not None:
                return True
        return False


class _Desc:
    """``_is_number_matching_desc``: a listed possible length (``lengths``, checked by the
    caller), then a full match."""

    __slots__ = ("_pattern", "lengths", "rx")

    def __init__(self, lengths: frozenset[int], pattern: str) -> None:
        self.lengths = lengths
        self._pattern = pattern
        self.rx: re.Pattern[str] | None = None  # compiled on first use

    @classmethod
    def of(cls, desc: Any) -> _Desc | None:
        """None for a description nothing can match (none, or an empty pattern)."""
        if desc is None or not desc.national_number_pattern:
            return None
        return cls(frozenset(desc.possible_length), str(desc.national_number_pattern))

    def compiled(self) -> re.Pattern[str]:
        rx = self.rx
        if rx is None:
            rx = self.rx = re.compile(self._pattern)
        return rx

    def fullmatch(self, nsn: str) -> re.Match[str] | None:
        return self.compiled().fullmatch(nsn)


_PLANS: dict[str, _Plan | None] = {}
# A calling code -> the plan of its first region (what _plan_for(regions[0], cc) gives; one
# dict lookup per number instead of a call). Metadata only, never a value.
_MAIN_PLANS: dict[int, _Plan | None] = {}
# A calling code's digit string (no leading zero) -> (the code, its regions, its digits).
_CODES: dict[str, tuple[int, Any, int]] = {
    str(cc): (cc, regions, len(str(cc)))
    for cc, regions in COUNTRY_CODE_TO_REGION_CODE.items()
    if 0 < cc <= 999
}
# Per (calling code, national number length): the plans of the code's regions, in order,
# that the region loop of international_valid must look at for a number of that length. A
# plan without leading digits whose general description refuses the length adds nothing
# (its ``valid`` is False), so it is left out; one with leading digits stays (when they
# match, its answer is final, even False) unless no later plan could say True. +1 has 25
# regions. Metadata only, never a value.
_CANDIDATE_PLANS: dict[tuple[int, int], tuple[_Plan, ...]] = {}


def _plan_for(region: str, cc: int) -> _Plan | None:
    key = region if region != REGION_CODE_FOR_NON_GEO_ENTITY else f"{region}:{cc}"
    if key in _PLANS:
        return _PLANS[key]
    if region == REGION_CODE_FOR_NON_GEO_ENTITY:
        md = PhoneMetadata.metadata_for_nongeo_region(cc, None)
    else:
        md = PhoneMetadata.metadata_for_region(region, None)
    plan = _PLANS[key] = _Plan(md) if md is not None else None
    return plan


def international_valid(value: str) -> bool | None:
    """``is_valid_number(parse(value, None))`` for ``+`` numbers of the plain shape; None when
    the answer needs ``phonenumbers`` itself (other shapes, a national prefix present)."""
    if len(value) > 64 or _SHAPE.fullmatch(value) is None:
        return None
    # the digits after the "+" (the shape allows nothing else but " .-()"), natively when built
    full = _digits(value) if _digits is not None else value[1:].translate(_DROP)
    if len(full) <= _MIN_NSN or full[0] == "0":
        return False  # too short after the "+", or no country code can start with 0
    # The first 1 to 3 digits that are a calling code (full has >= 3 digits, no leading 0,
    # so the digit string names the code exactly); no int() per try.
    code = _CODES.get(full[0])
    if code is None:
        code = _CODES.get(full[:2])
        if code is None:
            code = _CODES.get(full[:3])
            if code is None:
                return False  # "+" followed by no known country calling code
    cc, regions, width = code
    nsn = full[width:]
    if len(nsn) < _MIN_NSN:
        return False
    main: _Plan | None = _MAIN_PLANS.get(cc, _UNSET)
    if main is _UNSET:
        main = _MAIN_PLANS[cc] = _plan_for(regions[0], cc)
        if _NATIVE is not None:
            _NATIVE.phone_main(cc, width, len(regions), None if main is None else main.native)
    if main is None:
        return None
    if main.prefix is not None and main.prefix.match(nsn) is not None:
        return None  # the parser may strip a national prefix: let it decide
    if len(nsn) > _MAX_NSN:
        return False
    if len(regions) == 1:
        return main.valid(nsn)
    key = (cc, len(nsn))
    plans = _CANDIDATE_PLANS.get(key)
    if plans is None:
        # The first region alone, as the loop below would try it first: when it decides,
        # the other regions' metadata is not loaded (loading 25 regions for +1 took ≈ 4 ms
        # on the first +1 number); when it does not, it is tried again below, same answer.
        if main.leading is not None:
            if main.leading.match(nsn) is not None:
                return main.valid(nsn)
        elif main.valid(nsn):
            return True
        plans = _candidate_plans(regions, cc, len(nsn))
    # region_code_for_number: the first region whose leading digits match, or (without
    # leading digits) whose plan the number fits; then that region's plan decides.
    for plan in plans:
        if plan.leading is not None:
            if plan.leading.match(nsn) is not None:
                return plan.valid(nsn)
        elif plan.valid(nsn):
            return True
    return False


def _candidate_plans(regions: Any, cc: int, length: int) -> tuple[_Plan, ...]:
    """The plans of ``cc``'s regions (in order) that can decide a number of ``length``."""
    plans: list[_Plan] = []
    for region in regions:
        plan = _plan_for(region, cc)
        if plan is None:
            continue  # the loop skips a region without metadata
        if plan.leading is None and plan.lengths is not None and length not in plan.lengths:
            continue  # its valid() is False for this length
        plans.append(plan)
    # Past the last plan that can accept the length, every plan answers False whether its
    # leading digits match or not, and so does the end of the loop: drop that tail.
    last = max(
        (i for i, p in enumerate(plans) if p.lengths is None or length in p.lengths), default=-1
    )
    got = _CANDIDATE_PLANS[(cc, length)] = tuple(plans[: last + 1])
    if _NATIVE is not None:
        _NATIVE.phone_candidates(cc, length, tuple(p.native for p in got))
    return got


def native_codes() -> bytes:
    """The calling codes 1..999 as the native twin's table: byte i is 1 when i is one."""
    return bytes(1 if str(i) in _CODES else 0 for i in range(1000))


def reference_valid(value: str) -> bool:
    """What ``international_valid`` must equal (``phonenumbers`` itself; tests use it)."""
    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse(value, None)))
    except Exception:
        return False
