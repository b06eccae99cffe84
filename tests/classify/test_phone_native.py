"""The native phone twin answers exactly what the phone validator (and ``phonenumbers``) does.

``_native.phone`` decides plain international numbers from the numbering-plan metadata with
each pattern as a table over the digits (``_phone_dfa``), and calls the Python validator for
anything else. Held here: every pattern of the metadata as a table against ``re`` (full match
and match at the start) on random digit strings and on strings the table itself accepts; the
twin against the Python validator and against ``phonenumbers`` on every region's examples,
thousands of mutations, every calling-code prefix, every length of the shared calling codes,
random detector-shaped values and other shapes that must go to Python.
"""

from __future__ import annotations

import random
import re
import struct
from types import SimpleNamespace

import phonenumbers as pn
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ringfence.classify import _validators as v
from ringfence.classify._accel import NATIVE
from ringfence.classify._phone import _Plan, native_codes, reference_valid
from ringfence.classify._phone_dfa import (
    DEAD,
    Unsupported,
    compile_dfa,
    fullmatch,
    metadata_patterns,
    prefix_match,
    table_or_none,
)

from .test_phone import _examples, _mutations

needs_native = pytest.mark.skipif(
    NATIVE is None or not hasattr(NATIVE, "phone"), reason="native extension not built"
)
_TYPES = (
    "general_desc", "mobile", "fixed_line", "premium_rate", "toll_free", "shared_cost", "voip",
    "personal_number", "pager", "uan", "voicemail",
)  # fmt: skip


def _metadata_patterns() -> tuple[set[str], set[str]]:
    """(full-match patterns, start-match patterns) of every region's metadata."""
    return metadata_patterns()


def _accepted(table: bytes, r: random.Random, count: int) -> list[str]:
    """Strings the table reaches a final state on (random walks that avoid dead ends)."""
    n = struct.unpack_from("<H", table)[0]
    out: list[str] = []
    for _ in range(count):
        st_, s = 0, ""
        for _ in range(r.randint(0, 20)):
            if table[2 + st_] and r.random() < 0.3:
                break
            moves = [
                (d, nxt)
                for d in range(10)
                if (nxt := struct.unpack_from("<H", table, 2 + n + 2 * (st_ * 10 + d))[0]) != DEAD
            ]
            if not moves:
                break
            d, st_ = r.choice(moves)
            s += str(d)
        out.append(s)
    return out


def test_every_metadata_pattern_has_a_table_that_answers_as_re() -> None:
    r = random.Random(11)
    full, start = _metadata_patterns()
    for pattern in sorted(full | start):
        table = compile_dfa(pattern)  # the whole metadata is inside the supported subset
        rx = re.compile(pattern)
        samples = _accepted(table, r, 40)
        samples += [
            "".join(r.choice("0123456789") for _ in range(r.randint(0, 18))) for _ in range(40)
        ]
        samples += [s[:-1] for s in samples if s] + [s + r.choice("0123456789") for s in samples]
        for s in samples:
            assert fullmatch(table, s) == (rx.fullmatch(s) is not None), (pattern, s)
            assert prefix_match(table, s) == (rx.match(s) is not None), (pattern, s)


@pytest.mark.parametrize(
    ("pattern", "yes", "no"),
    [
        (r"0|(\d{3})$", ["0", "012", "123"], ["12", "1234", "", "0123"]),
        (r"[2-9]\d{2}", ["200", "999"], ["199", "20", "2000"]),
        (r"1(?:2|34)?5{1,2}", ["15", "125", "1345", "13455"], ["1", "135", "1555"]),
        (r"(?:1|2)??3", ["3", "13", "23"], ["123"]),
        (r"", [""], ["1"]),
    ],
)
def test_small_patterns_full_match_like_re(pattern: str, yes: list[str], no: list[str]) -> None:
    table = compile_dfa(pattern)
    for s in yes + no:
        assert fullmatch(table, s) == (re.fullmatch(pattern, s) is not None) == (s in yes)


def test_end_anchor_matches_at_the_start_only_when_the_input_ends() -> None:
    """``$`` in a national prefix pattern: re.match succeeds on "0..." whatever follows, on
    three other digits only when nothing follows."""
    table = compile_dfa(r"0|(\d{3})$")
    for s, want in (("0123", True), ("123", True), ("1234", False), ("12", False), ("", False)):
        assert prefix_match(table, s) == (re.match(r"0|(\d{3})$", s) is not None) == want


@pytest.mark.parametrize(
    "pattern", [r"\d+?+", r"[^1]", r"a", r"\s", r"(?=1)", r"1{2", r"(1", r"[]", r"\d?+1", r"$?"]
)
def test_syntax_outside_the_subset_has_no_table(pattern: str) -> None:
    with pytest.raises(Unsupported):
        compile_dfa(pattern)
    assert table_or_none(pattern) is None


def _reference(value: str) -> bool:
    """phone() with phonenumbers alone for international numbers."""
    d = v.digits(value)
    if not 7 <= len(d) <= 15 or v.all_same(d):
        return False
    s = value.strip()
    return reference_valid(s) if s.startswith("+") else v.phone(value)


def _check_twin(values: list[str]) -> int:
    """Each value through the twin twice (the first may register its plans) and alone."""
    assert NATIVE is not None
    decided = 0
    for val in values:
        want = v.phone(val)
        assert NATIVE.phone(val) == want, val
        assert NATIVE.phone(val) == want, val
        got = NATIVE.phone_decided(val)
        if got is not None:
            decided += 1
            assert got == want == _reference(val), val
    return decided


@needs_native
def test_twin_agrees_on_every_regions_examples_and_their_mutations() -> None:
    values = _examples()
    values += _mutations(values, random.Random(7), 6)
    decided = _check_twin(values)
    assert decided > 0.6 * len(values)


@needs_native
def test_twin_agrees_on_every_calling_code_prefix() -> None:
    r = random.Random(17)
    values: list[str] = []
    for head in range(1, 1000):
        for n in (4, 6, 9, 10, 12, 14):
            rest = "".join(r.choice("0123456789") for _ in range(n))
            values += [f"+{head}{rest}", f"+{head} {rest[:3]}-{rest[3:]}"]
    assert _check_twin(values) > 0.8 * len(values)


@needs_native
def test_twin_agrees_at_every_length_of_shared_calling_codes() -> None:
    r = random.Random(19)
    values: list[str] = []
    for cc, regions in sorted(pn.COUNTRY_CODE_TO_REGION_CODE.items()):
        if len(regions) < 2:
            continue
        starts = [""]
        for region in regions:
            for kind in range(12):
                ex = pn.example_number_for_type(region, kind)
                if ex is not None:
                    starts.append(str(ex.national_number))
        for length in range(2, 16):
            for head in starts:
                head = head[: r.randint(0, min(len(head), length))]
                tail = "".join(r.choice("0123456789") for _ in range(length - len(head)))
                values.append(f"+{cc} {head}{tail}")
    assert _check_twin(values) > 0.8 * len(values)


@needs_native
@settings(max_examples=400, deadline=None)
@given(st.from_regex(r"\A\+\d{1,3}[ .\-]?(?:\(\d{1,4}\)[ .\-]?)?\d{1,4}(?:[ .\-]?\d{2,5}){1,4}\Z"))
def test_twin_agrees_on_detector_shaped_values(value: str) -> None:
    _check_twin([value.strip(), value])


@needs_native
def test_other_shapes_go_to_the_python_validator() -> None:
    assert NATIVE is not None
    for val in (
        "+44 20 7946 0958 ext 12",
        "+1-800-FLOWERS",
        "0044 20 7946 0958",
        "+\uff14\uff14 20 7946 0958",
        " +44 20 7946 0958",
        "+44 20 7946 0958 ",
        "(415) 555-2671",
        "+44 20 7946 0958" + " " * 60,
        "+ 44 20 7946 0958",
        "+44/20/7946/0958",
    ):
        assert NATIVE.phone_decided(val) is None, val
        assert NATIVE.phone(val) == v.phone(val), val


@needs_native
def test_digit_counts_outside_the_validator_range_are_not_valid() -> None:
    assert NATIVE is not None
    for val in ("+44 20 79", "+44 20 7946 0958 1234 5", "+1 111 111 1111", "+0 20 7946 0958"):
        assert NATIVE.phone_decided(val) is False, val
        assert v.phone(val) is False, val


def test_engine_calls_the_twin_for_the_phone_validator() -> None:
    if NATIVE is None or not hasattr(NATIVE, "phone"):
        assert v.phone not in v.NATIVE_TWINS
    else:
        assert v.NATIVE_TWINS[v.phone] is NATIVE.phone


_PATTERNS = (r"\d{3,6}", r"1\d{2,5}", r"[2-5]\d{3}", r"(?:12|3)\d{2}$", r"\d{4}|7\d{5}", r"9?\d{4}")
_LEADING = (None, "", "1", "[2-4]", "12|3", r"(?:5|9)\d")
_PREFIXES = (None, "0", r"1(\d)?7", r"(\d{3})$", "99")


def _made_up_plan(r: random.Random) -> _Plan:
    def desc() -> SimpleNamespace | None:
        if r.random() < 0.2:
            return None
        lengths = tuple(sorted(r.sample(range(2, 9), r.randint(0, 4))))
        return SimpleNamespace(national_number_pattern=r.choice(_PATTERNS), possible_length=lengths)

    md = SimpleNamespace(
        national_prefix_for_parsing=r.choice(_PREFIXES),
        leading_digits=r.choice(_LEADING),
        general_desc=desc(),
        same_mobile_and_fixed_line_pattern=r.random() < 0.3,
        **{kind: desc() for kind in _TYPES[1:]},
    )
    return _Plan(md)


def _python_decide(main: _Plan, single: bool, plans: list[_Plan] | None, nsn: str) -> bool | None:
    """international_valid after the calling code (its lines, on the given plans)."""
    if main.prefix is not None and main.prefix.match(nsn) is not None:
        return None
    if len(nsn) > 17:
        return False
    if single:
        return main.valid(nsn)
    if plans is None:
        if main.leading is not None:
            if main.leading.match(nsn) is not None:
                return main.valid(nsn)
        elif main.valid(nsn):
            return True
        return None
    for plan in plans:
        if plan.leading is not None:
            if plan.leading.match(nsn) is not None:
                return plan.valid(nsn)
        elif plan.valid(nsn):
            return True
    return False


@needs_native
def test_decision_on_made_up_plans_is_the_python_loops() -> None:
    """Lengths the general description refuses but a type accepts, ``$`` in a description,
    leading digits that match a plan that says no before one that says yes, national
    prefixes: cases the real metadata may not exercise."""
    assert NATIVE is not None
    r = random.Random(23)
    seen: set[bool | None] = set()
    for _ in range(400):
        plans = [_made_up_plan(r) for _ in range(r.randint(1, 4))]
        main = plans[0]
        for _ in range(30):
            nsn = "".join(r.choice("0123456789") for _ in range(r.randint(2, 9)))
            single = r.random() < 0.3
            given_plans = None if r.random() < 0.3 else plans
            natives = None if given_plans is None else tuple(p.native for p in given_plans)
            want = _python_decide(main, single, given_plans, nsn)
            assert NATIVE.phone_plans_decide(main.native, single, natives, nsn) == want
            seen.add(want)
    assert seen == {True, False, None}


@needs_native
def test_a_pattern_without_a_table_leaves_the_number_to_python() -> None:
    """A pattern outside the tables' subset (here a word boundary): the twin does not guess."""
    assert NATIVE is not None
    desc = SimpleNamespace(national_number_pattern=r"\d{3,6}\b", possible_length=())
    plain = SimpleNamespace(national_number_pattern=r"\d{3,6}", possible_length=())
    kinds = {kind: None for kind in _TYPES[1:]}
    no_table = _Plan(SimpleNamespace(national_prefix_for_parsing=None, leading_digits=None,
                                     general_desc=desc, same_mobile_and_fixed_line_pattern=False,
                                     **{**kinds, "mobile": plain}))  # fmt: skip
    odd_lead = _Plan(SimpleNamespace(national_prefix_for_parsing=None, leading_digits=r"1\b",
                                     general_desc=plain, same_mobile_and_fixed_line_pattern=False,
                                     **{**kinds, "mobile": plain}))  # fmt: skip
    odd_prefix = _Plan(SimpleNamespace(national_prefix_for_parsing=r"0\B", leading_digits=None,
                                       general_desc=plain, same_mobile_and_fixed_line_pattern=False,
                                       **{**kinds, "mobile": plain}))  # fmt: skip
    assert NATIVE.phone_plans_decide(no_table.native, True, None, "12345") is None
    assert NATIVE.phone_plans_decide(odd_lead.native, False, None, "12345") is None
    assert NATIVE.phone_plans_decide(odd_prefix.native, True, None, "12345") is None
    # the same plans with patterns that have tables decide
    assert NATIVE.phone_plans_decide(odd_lead.native, False, (odd_prefix.native,), "12") is False


@needs_native
def test_a_table_built_meanwhile_by_another_caller_is_kept() -> None:
    """The table compiler is Python, so another thread can build the same table while one
    waits for it: the first finished is kept, the other dropped (here the compiler itself asks
    again, as another thread would)."""
    assert NATIVE is not None
    kinds = {kind: None for kind in _TYPES[1:]}
    desc = SimpleNamespace(national_number_pattern=r"[1-5]\d{3,5}", possible_length=())
    plan = _Plan(SimpleNamespace(national_prefix_for_parsing=None, leading_digits=None,
                                 general_desc=desc, same_mobile_and_fixed_line_pattern=False,
                                 **{**kinds, "fixed_line": desc}))  # fmt: skip
    depth = []

    def compile_again(pattern: str) -> bytes | None:
        if not depth:
            depth.append(pattern)
            assert NATIVE.phone_plans_decide(plan.native, True, None, "12345") is True
        return table_or_none(pattern)

    NATIVE.phone_setup(v.phone, compile_again, native_codes())
    try:
        for nsn, want in (("12345", True), ("62345", False), ("12", False), ("1234567", False)):
            assert NATIVE.phone_plans_decide(plan.native, True, None, nsn) is want
    finally:
        NATIVE.phone_setup(v.phone, table_or_none, native_codes())
    assert depth == [r"[1-5]\d{3,5}"]
