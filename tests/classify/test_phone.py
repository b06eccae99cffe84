"""The fast international phone check answers exactly what ``phonenumbers`` answers.

``_phone.international_valid`` replaces ``parse`` + ``is_valid_number`` for plain ``+``
numbers (the shape the detector's pattern produces). Wherever it gives an answer, that answer
must be ``phonenumbers``' own: on every region's example numbers in both formats, thousands of
mutations of them (a digit changed, added, dropped, the subscriber part redrawn), random digit
strings with separators, multi-region calling codes (+1, +7, +44, +262, ...), national
prefixes and non-geographic codes.
"""

from __future__ import annotations

import random

import phonenumbers as pn
from hypothesis import given, settings
from hypothesis import strategies as st

from ringfence.classify import _validators as v
from ringfence.classify._phone import international_valid, reference_valid


def _examples() -> list[str]:
    out: list[str] = []
    for region in sorted(pn.SUPPORTED_REGIONS):
        for kind in range(12):
            ex = pn.example_number_for_type(region, kind)
            if ex is not None:
                out.append(pn.format_number(ex, pn.PhoneNumberFormat.INTERNATIONAL))
                out.append(pn.format_number(ex, pn.PhoneNumberFormat.E164))
    for cc in sorted(pn.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        ex = pn.example_number_for_non_geo_entity(cc)
        if ex is not None:
            out.append(pn.format_number(ex, pn.PhoneNumberFormat.INTERNATIONAL))
    return out


def _mutations(values: list[str], r: random.Random, per: int) -> list[str]:
    out: list[str] = []
    for val in values:
        for _ in range(per):
            d = list(val)
            idx = [i for i, ch in enumerate(d) if ch.isdigit()]
            k = r.randrange(5)
            if k == 0:
                d[r.choice(idx)] = r.choice("0123456789")
            elif k == 1:
                d.insert(r.choice(idx) + 1, r.choice("0123456789"))
            elif k == 2 and len(idx) > 1:
                del d[r.choice(idx[1:])]
            elif k == 3:
                for i in idx[-4:]:
                    d[i] = r.choice("0123456789")
            else:  # a national prefix or trunk zero after the country code
                d.insert(idx[0] + 1 + r.randrange(3), r.choice(["0", "(0)", " 0", "1", "9"]))
            out.append("".join(d))
    return out


def _check(values: list[str]) -> tuple[int, int]:
    decided = valid = 0
    for val in values:
        got = international_valid(val)
        if got is None:
            continue
        decided += 1
        valid += got
        assert got == reference_valid(val), val
    return decided, valid


def test_every_regions_examples_and_their_mutations_agree_with_phonenumbers() -> None:
    examples = _examples()
    decided, valid = _check(examples + _mutations(examples, random.Random(7), 6))
    # the fast path must really decide most of them, valid and invalid alike
    assert decided > 0.9 * len(examples) * 7
    assert 0.2 * decided < valid < 0.8 * decided


def test_random_digit_strings_agree_with_phonenumbers() -> None:
    r = random.Random(11)
    values: list[str] = []
    for _ in range(4000):
        digits = "".join(r.choice("0123456789") for _ in range(r.randint(3, 17)))
        values.append("+" + digits)
        cut = [digits[i : i + r.randint(1, 4)] for i in range(0, len(digits), 3)]
        values.append("+" + r.choice([" ", "-", "."]).join(cut))
    for cc in ("1", "7", "44", "47", "61", "262", "290", "590", "599", "800", "882", "979"):
        for _ in range(300):
            rest = "".join(r.choice("0123456789") for _ in range(r.randint(4, 13)))
            values.append(f"+{cc} {rest}")
    decided, _valid = _check(values)
    assert decided > 0.85 * len(values)  # the rest start with a national prefix


def test_every_calling_code_prefix_agrees_with_phonenumbers() -> None:
    """The calling code read as a digit string: every 1-3 digit prefix, known or not, with
    national numbers of several lengths (and none, too short ones)."""
    r = random.Random(13)
    values: list[str] = []
    for head in range(1, 1000):
        values.append(f"+{head}")
        for n in (1, 2, 4, 7, 9, 10, 12):
            rest = "".join(r.choice("0123456789") for _ in range(n))
            values.append(f"+{head}{rest}")
            values.append(f"+{head} {rest}")
    decided, valid = _check(values)
    assert decided > 0.8 * len(values) and valid > 100


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"\A\+\d{1,3}[ .\-]?(?:\(\d{1,4}\)[ .\-]?)?\d{1,4}(?:[ .\-]?\d{2,5}){1,4}\Z"))
def test_detector_shaped_values_agree_with_phonenumbers(value: str) -> None:
    value = value.strip()
    got = international_valid(value)
    if got is not None:
        assert got == reference_valid(value)


def test_other_shapes_are_left_to_phonenumbers() -> None:
    for val in (
        "+44 20 7946 0958 ext 12",
        "+1-800-FLOWERS",
        "0044 20 7946 0958",
        "+\uff14\uff14 20 7946 0958",
    ):
        assert international_valid(val) is None


def test_phone_validator_is_unchanged_for_the_corpus_numbers() -> None:
    """The validator with the fast path answers what the phonenumbers-only validator did."""
    r = random.Random(3)
    values = _mutations(_examples()[:400], r, 2)
    for val in values:
        digits = v.digits(val)
        if not 7 <= len(digits) <= 15 or v.all_same(digits):
            continue
        assert v.phone(val) == reference_valid(val), val


def test_every_length_in_shared_calling_codes_agrees_with_phonenumbers() -> None:
    """Calling codes shared by several regions (+1 has 25) at every national length: the
    region loop only looks at the plans that can decide that length (_CANDIDATE_PLANS)."""
    r = random.Random(5)
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
        for length in range(2, 18):
            for head in starts:
                head = head[: r.randint(0, min(len(head), length))]
                tail = "".join(r.choice("0123456789") for _ in range(length - len(head)))
                values.append(f"+{cc} {head}{tail}")
    decided, valid = _check(values)
    assert decided > 0.8 * len(values) and valid > 100
