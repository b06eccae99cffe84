"""Check-digit and structure validators that turn a pattern hit into a confident finding.

Each validator takes the candidate text exactly as matched (separators included), returns a bool
and never raises: malformed input is simply invalid. Validators must never log or keep the value.
Algorithms follow the public specifications of each identifier (cited in docs/classify.md).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import ipaddress
import math
import re
from collections import Counter
from collections.abc import Callable
from functools import lru_cache

import phonenumbers

_NOT_DIGIT = re.compile(r"[^0-9]+")
_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]+")


def digits(value: str) -> str:
    return _NOT_DIGIT.sub("", value)


def alnum(value: str) -> str:
    return _NOT_ALNUM.sub("", value).upper()


def safe(fn: Callable[[str], bool]) -> Callable[[str], bool]:
    """Wrap a validator so any exception means 'invalid' (the engine never raises)."""

    def wrapped(value: str) -> bool:
        try:
            return bool(fn(value))
        except Exception:
            return False

    wrapped.__name__ = fn.__name__
    wrapped.__doc__ = fn.__doc__
    return wrapped


def _all_same(s: str) -> bool:
    return len(set(s)) <= 1


def luhn_ok(num: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(num)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _consistent_separators(value: str) -> bool:
    seps = {c for c in value if not c.isalnum()}
    return len(seps) <= 1


# --- financial -----------------------------------------------------------------------------


def _card_brand_ok(num: str) -> bool:
    n = len(num)
    p2, p3, p4, p6 = int(num[:2]), int(num[:3]), int(num[:4]), int(num[:6])
    if num[0] == "4":
        return n in (13, 16, 19)
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:
        return n == 16
    if p2 in (34, 37):
        return n == 15
    if p4 == 6011 or 644 <= p3 <= 649 or p2 == 65 or 622126 <= p6 <= 622925:
        return 16 <= n <= 19
    if 3528 <= p4 <= 3589:
        return 16 <= n <= 19
    if 300 <= p3 <= 305 or p2 in (36, 38, 39):
        return 14 <= n <= 19
    if p2 == 62:
        return 16 <= n <= 19
    return False


@safe
def payment_card(value: str) -> bool:
    """Luhn + issuer prefix and length (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay)."""
    num = digits(value)
    if not 13 <= len(num) <= 19 or not _consistent_separators(value) or _all_same(num):
        return False
    return _card_brand_ok(num) and luhn_ok(num)


IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def mod97(s: str) -> int:
    return int("".join(str(int(c, 36)) for c in s)) % 97


@safe
def iban(value: str) -> bool:
    """ISO 13616: per-country length and ISO 7064 mod-97-10 check digits."""
    s = alnum(value)
    if IBAN_LENGTHS.get(s[:2]) != len(s):
        return False
    return mod97(s[4:] + s[:4]) == 1


_BIC_COUNTRIES = set(IBAN_LENGTHS) | {
    "US", "CA", "AU", "NZ", "JP", "CN", "HK", "SG", "IN", "ZA", "MX", "AR", "CL", "CO", "KR",
    "TW", "TH", "MY", "ID", "PH", "VN", "NG", "KE", "MA", "RU",
}  # fmt: skip


@safe
def swift_bic(value: str) -> bool:
    """ISO 9362: 4 letters bank, ISO country code, 2 location, optional 3 branch."""
    s = value.strip()
    return len(s) in (8, 11) and s[:4].isalpha() and s[4:6] in _BIC_COUNTRIES and s.isupper()


@safe
def aba_routing(value: str) -> bool:
    """US ABA routing number: valid Federal Reserve prefix and 3-7-1 weighted checksum."""
    d = [int(c) for c in digits(value)]
    if len(d) != 9:
        return False
    prefix = d[0] * 10 + d[1]
    if not (prefix <= 12 or 21 <= prefix <= 32 or 61 <= prefix <= 72 or prefix == 80):
        return False
    total = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + d[2] + d[5] + d[8]
    return total % 10 == 0 and not _all_same("".join(map(str, d)))


@safe
def bank_account(value: str) -> bool:
    d = digits(value)
    return 6 <= len(d) <= 17 and not _all_same(d)


# --- government identifiers ----------------------------------------------------------------

_SSN_KNOWN_FAKE = {"078051120", "219099999", "123456789", "111111111", "457555462"}


@safe
def us_ssn(value: str) -> bool:
    """SSA rules: area not 000/666/9xx, group not 00, serial not 0000; known fakes refused."""
    d = digits(value)
    if len(d) != 9 or not _consistent_separators(value) or d in _SSN_KNOWN_FAKE:
        return False
    area, group, serial = int(d[:3]), int(d[3:5]), int(d[5:])
    return area not in (0, 666) and area < 900 and group != 0 and serial != 0


@safe
def us_itin(value: str) -> bool:
    """IRS ITIN: starts with 9, group 50-65, 70-88, 90-92 or 94-99."""
    d = digits(value)
    if len(d) != 9 or d[0] != "9" or not _consistent_separators(value):
        return False
    g = int(d[3:5])
    return 50 <= g <= 65 or 70 <= g <= 88 or 90 <= g <= 92 or 94 <= g <= 99


@safe
def us_ein(value: str) -> bool:
    d = digits(value)
    return len(d) == 9 and d[:2] not in {"00", "07", "08", "09", "17", "18", "19", "28", "29"}


@safe
def uk_nino(value: str) -> bool:
    """HMRC NINO: prefix letter rules, 6 digits, suffix A-D."""
    s = alnum(value)
    if len(s) != 9 or not s[:2].isalpha() or not s[2:8].isdigit() or s[8] not in "ABCD":
        return False
    if s[0] in "DFIQUV" or s[1] in "DFIOQUV":
        return False
    return s[:2] not in {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}


@safe
def uk_nhs(value: str) -> bool:
    """NHS number: 10 digits, mod-11 check digit with weights 10..2."""
    d = [int(c) for c in digits(value)]
    if len(d) != 10 or _all_same("".join(map(str, d))):
        return False
    check = 11 - sum(w * x for w, x in zip(range(10, 1, -1), d[:9], strict=True)) % 11
    check = 0 if check == 11 else check
    return check != 10 and check == d[9]


@safe
def ca_sin(value: str) -> bool:
    """Canada SIN: 9 digits, Luhn, first digit not 0 or 8."""
    d = digits(value)
    return len(d) == 9 and d[0] not in "08" and luhn_ok(d) and _consistent_separators(value)


@safe
def fr_nir(value: str) -> bool:
    """France NIR (INSEE): 13 characters + key = 97 - (number mod 97); Corsica 2A/2B."""
    s = alnum(value)
    if len(s) != 15 or s[0] not in "12":
        return False
    body = s[:13].replace("2A", "19", 1) if s[5:7] == "2A" else s[:13]
    if s[5:7] == "2B":
        body = s[:5] + "18" + s[7:13]
    if not body.isdigit() or not s[13:].isdigit():
        return False
    month = int(s[3:5])
    if not (1 <= month <= 12 or 20 <= month <= 42 or 50 <= month <= 99):
        return False
    return 97 - int(body) % 97 == int(s[13:])


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


@safe
def es_dni(value: str) -> bool:
    """Spain DNI: 8 digits + check letter (number mod 23)."""
    s = alnum(value)
    return len(s) == 9 and s[:8].isdigit() and _DNI_LETTERS[int(s[:8]) % 23] == s[8]


@safe
def es_nie(value: str) -> bool:
    """Spain NIE: X/Y/Z + 7 digits + check letter (X=0, Y=1, Z=2, then as DNI)."""
    s = alnum(value)
    if len(s) != 9 or s[0] not in "XYZ" or not s[1:8].isdigit():
        return False
    return _DNI_LETTERS[int(str("XYZ".index(s[0])) + s[1:8]) % 23] == s[8]


_CF_ODD = dict(
    zip(
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11,
         3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23],
        strict=True,
    )
)  # fmt: skip


@safe
def it_codice_fiscale(value: str) -> bool:
    """Italy codice fiscale: 16 chars, check character from odd/even position tables."""
    s = alnum(value)
    if len(s) != 16 or not s[:6].isalpha() or not s[15].isalpha():
        return False
    total = 0
    for i, c in enumerate(s[:15]):
        if i % 2 == 0:
            total += _CF_ODD[c]
        else:
            total += int(c) if c.isdigit() else ord(c) - 65
    return chr(65 + total % 26) == s[15]


@safe
def nl_bsn(value: str) -> bool:
    """Netherlands BSN: 9 digits, '11-proof' (weights 9..2 and -1)."""
    d = [int(c) for c in digits(value)]
    if len(d) != 9 or sum(d) == 0:
        return False
    total = sum(w * x for w, x in zip(range(9, 1, -1), d[:8], strict=True)) - d[8]
    return total % 11 == 0


@safe
def de_tax_id(value: str) -> bool:
    """Germany Steuer-IdNr: 11 digits, first not 0, digit-repeat rule, ISO 7064 MOD 11,10."""
    d = digits(value)
    if len(d) != 11 or d[0] == "0":
        return False
    counts = Counter(d[:10])
    repeated = [c for c in counts.values() if c > 1]
    if len(repeated) != 1 or repeated[0] not in (2, 3):
        return False
    product = 10
    for ch in d[:10]:
        s = (int(ch) + product) % 10
        s = 10 if s == 0 else s
        product = (s * 2) % 11
    check = 11 - product
    return (0 if check == 10 else check) == int(d[10])


_VERHOEFF_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6], [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]  # fmt: skip
_VERHOEFF_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2], [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]  # fmt: skip


def verhoeff_ok(num: str) -> bool:
    c = 0
    for i, ch in enumerate(reversed(num)):
        c = _VERHOEFF_D[c][_VERHOEFF_P[i % 8][int(ch)]]
    return c == 0


@safe
def in_aadhaar(value: str) -> bool:
    """India Aadhaar: 12 digits, first not 0/1, Verhoeff check digit."""
    d = digits(value)
    return len(d) == 12 and d[0] not in "01" and _consistent_separators(value) and verhoeff_ok(d)


@safe
def in_pan(value: str) -> bool:
    """India PAN: AAAAA9999A with a valid holder-type 4th letter."""
    s = value.strip()
    return len(s) == 10 and s[3] in "ABCFGHLJPT" and s[:5].isalpha() and s[5:9].isdigit()


def _mod11_digit(nums: list[int], weights: list[int]) -> int:
    r = sum(w * x for w, x in zip(weights, nums, strict=True)) % 11
    return 0 if r < 2 else 11 - r


@safe
def br_cpf(value: str) -> bool:
    """Brazil CPF: 11 digits, two mod-11 check digits."""
    d = [int(c) for c in digits(value)]
    if len(d) != 11 or len(set(d)) == 1:
        return False
    c1 = _mod11_digit(d[:9], list(range(10, 1, -1)))
    c2 = _mod11_digit(d[:10], list(range(11, 1, -1)))
    return d[9] == c1 and d[10] == c2


@safe
def br_cnpj(value: str) -> bool:
    """Brazil CNPJ: 14 digits, two mod-11 check digits."""
    d = [int(c) for c in digits(value)]
    if len(d) != 14 or len(set(d)) == 1:
        return False
    w1 = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
    c1 = _mod11_digit(d[:12], w1)
    c2 = _mod11_digit(d[:13], [6, *w1])
    return d[12] == c1 and d[13] == c2


@safe
def au_tfn(value: str) -> bool:
    """Australia TFN: 9 digits, weighted sum mod 11 == 0."""
    d = [int(c) for c in digits(value)]
    if len(d) != 9 or sum(d) == 0:
        return False
    return sum(w * x for w, x in zip([1, 4, 3, 7, 5, 8, 6, 9, 10], d, strict=True)) % 11 == 0


@safe
def au_abn(value: str) -> bool:
    """Australia ABN: 11 digits, (first-1) then weights, sum mod 89 == 0."""
    d = [int(c) for c in digits(value)]
    if len(d) != 11 or d[0] == 0:
        return False
    d[0] -= 1
    weights = [10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19]
    return sum(w * x for w, x in zip(weights, d, strict=True)) % 89 == 0


@safe
def au_medicare(value: str) -> bool:
    """Australia Medicare: 10-11 digits, first 2-6, weighted check digit in position 9."""
    d = [int(c) for c in digits(value)]
    if len(d) not in (10, 11) or not 2 <= d[0] <= 6:
        return False
    return sum(w * x for w, x in zip([1, 3, 7, 9, 1, 3, 7, 9], d[:8], strict=True)) % 10 == d[8]


@safe
def sg_nric(value: str) -> bool:
    """Singapore NRIC/FIN (S, T, F, G series): weighted mod-11 check letter."""
    s = value.strip().upper()
    if len(s) != 9 or s[0] not in "STFG" or not s[1:8].isdigit():
        return False
    total = sum(w * int(c) for w, c in zip([2, 7, 6, 5, 4, 3, 2], s[1:8], strict=True))
    if s[0] in "TG":
        total += 4
    table = "JZIHGFEDCBA" if s[0] in "ST" else "XWUTRQPNMLK"
    return table[total % 11] == s[8]


_VIN_VALUES = {
    **{str(i): i for i in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7, "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}  # fmt: skip
_VIN_WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]


@safe
def vin(value: str) -> bool:
    """Vehicle identification number (ISO 3779 / 49 CFR 565): position-9 check digit."""
    s = value.strip().upper()
    if len(s) != 17 or s.isdigit() or s.isalpha():
        return False
    total = sum(_VIN_VALUES[c] * w for c, w in zip(s, _VIN_WEIGHTS, strict=True))
    check = total % 11
    return s[8] == ("X" if check == 10 else str(check))


def _date_ok(yy: int, mm: int, dd: int) -> bool:
    try:
        _dt.date(yy, mm, dd)
    except ValueError:
        return False
    return True


@safe
def pl_pesel(value: str) -> bool:
    """Poland PESEL: 11 digits, encoded birth date, weighted check digit."""
    d = [int(c) for c in digits(value)]
    if len(d) != 11:
        return False
    month = d[2] * 10 + d[3]
    century = {0: 1900, 20: 2000, 40: 2100, 60: 2200, 80: 1800}[month // 20 * 20]
    if not _date_ok(century + d[0] * 10 + d[1], month % 20, d[4] * 10 + d[5]):
        return False
    weights = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3]
    return (10 - sum(w * x for w, x in zip(weights, d[:10], strict=True)) % 10) % 10 == d[10]


@safe
def se_personnummer(value: str) -> bool:
    """Sweden personnummer: YYMMDD-NNNC, valid date (or +60 coordination day), Luhn."""
    d = digits(value)
    if len(d) == 12:
        d = d[2:]
    if len(d) != 10:
        return False
    day = int(d[4:6])
    day = day - 60 if day > 60 else day
    if not _date_ok(2000 + int(d[:2]), int(d[2:4]), day):
        return False
    return luhn_ok(d)


_HETU_CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"


@safe
def fi_hetu(value: str) -> bool:
    """Finland HETU: DDMMYY, century sign, NNN, mod-31 check character."""
    s = value.strip().upper()
    if len(s) != 11 or s[6] not in "+-ABCDEFUVWXY" or not (s[:6] + s[7:10]).isdigit():
        return False
    if not _date_ok(2000 + int(s[4:6]), int(s[2:4]), int(s[:2])):
        return False
    return _HETU_CHECK[int(s[:6] + s[7:10]) % 31] == s[10]


@safe
def be_national_number(value: str) -> bool:
    """Belgium national register number: 9 digits + 97 - (n mod 97), 2000+ prefixed by 2."""
    d = digits(value)
    if len(d) != 11:
        return False
    check = int(d[9:])
    return check in (97 - int(d[:9]) % 97, 97 - int("2" + d[:9]) % 97)


_CN_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


@safe
def cn_resident_id(value: str) -> bool:
    """China resident identity card: 18 chars, birth date, ISO 7064 MOD 11-2 check."""
    s = value.strip().upper()
    if len(s) != 18 or not s[:17].isdigit():
        return False
    if not _date_ok(int(s[6:10]), int(s[10:12]), int(s[12:14])):
        return False
    total = sum(int(c) * w for c, w in zip(s[:17], _CN_WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == s[17]


@safe
def za_id(value: str) -> bool:
    """South Africa ID: YYMMDD SSSS C A Z, Luhn over 13 digits."""
    d = digits(value)
    if len(d) != 13 or d[10] not in "01":
        return False
    return _date_ok(2000 + int(d[:2]), int(d[2:4]), int(d[4:6])) and luhn_ok(d)


@safe
def no_fnr(value: str) -> bool:
    """Norway fødselsnummer: DDMMYY + 3 + two mod-11 check digits."""
    d = [int(c) for c in digits(value)]
    if len(d) != 11:
        return False
    day = d[0] * 10 + d[1]
    day = day - 40 if day > 40 else day
    if not _date_ok(2000 + d[4] * 10 + d[5], d[2] * 10 + d[3], day):
        return False

    def k(nums: list[int], weights: list[int]) -> int:
        r = 11 - sum(w * x for w, x in zip(weights, nums, strict=True)) % 11
        return 0 if r == 11 else r

    k1 = k(d[:9], [3, 7, 6, 1, 8, 9, 4, 5, 2])
    k2 = k(d[:10], [5, 4, 3, 2, 7, 6, 5, 4, 3, 2])
    return k1 == d[9] and k2 == d[10]


@safe
def us_npi(value: str) -> bool:
    """US National Provider Identifier: 10 digits, Luhn over '80840' + NPI."""
    d = digits(value)
    return len(d) == 10 and d[0] in "12" and luhn_ok("80840" + d)


@safe
def us_dea(value: str) -> bool:
    """US DEA registration: 2 letters + 7 digits, (d1+d3+d5) + 2(d2+d4+d6) ends in d7."""
    s = value.strip().upper()
    if len(s) != 9 or s[0] not in "ABCDEFGHJKLMPRSTUX" or not s[2:].isdigit():
        return False
    d = [int(c) for c in s[2:]]
    return (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10 == d[6]


# --- network, crypto, dates ----------------------------------------------------------------


@safe
def email(value: str) -> bool:
    local, _, domain = value.rpartition("@")
    if not local or local[0] == "." or local[-1] == "." or ".." in local or len(local) > 64:
        return False
    labels = domain.split(".")
    if len(labels) < 2 or not labels[-1].isalpha():
        return False
    return all(lb and lb[0] != "-" and lb[-1] != "-" for lb in labels)


@lru_cache(maxsize=4096)
def _phone_parse(value: str, region: str | None) -> bool:
    num = phonenumbers.parse(value, region)
    return bool(phonenumbers.is_valid_number(num))


@safe
def phone(value: str) -> bool:
    """phonenumbers validity; international form when '+', else US/GB/DE/FR numbering plans."""
    d = digits(value)
    if not 7 <= len(d) <= 15 or _all_same(d):
        return False
    s = value.strip()
    if s.startswith("+"):
        return _phone_parse(s, None)
    if len(d) == 8 and s[4:5] == "-" and s[:4].isdigit():  # looks like a date 2024-0115
        return False
    return any(_phone_parse(s, r) for r in ("US", "GB", "DE", "FR"))


@safe
def ipv4(value: str) -> bool:
    parts = value.split(".")
    if len(parts) != 4 or any(len(p) > 1 and p[0] == "0" for p in parts):
        return False
    ip = ipaddress.IPv4Address(value)
    return not (ip.is_unspecified or value == "255.255.255.255")


@safe
def ipv6(value: str) -> bool:
    ip = ipaddress.IPv6Address(value)
    if ip.is_unspecified:
        return False
    groups = [g for g in value.split(":") if g]
    return value.count(":") >= 7 or (len(groups) >= 2 and any(c.isalpha() for c in value))


@safe
def mac(value: str) -> bool:
    h = value.replace(":", "").replace("-", "").replace(".", "").lower()
    return _consistent_separators(value) and len(h) == 12 and h not in ("000000000000", "f" * 12)


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


@safe
def base58check(value: str) -> bool:
    """Bitcoin legacy address: base58 decode to 25 bytes, double-SHA256 checksum."""
    n = 0
    for c in value:
        n = n * 58 + _B58.index(c)
    raw = n.to_bytes(25, "big")
    if raw[0] not in (0x00, 0x05):
        return False
    return hashlib.sha256(hashlib.sha256(raw[:21]).digest()).digest()[:4] == raw[21:]


_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _bech32_polymod(values: list[int]) -> int:
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        b = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (b >> i) & 1 else 0
    return chk


@safe
def bech32_address(value: str) -> bool:
    """BIP-173/BIP-350 segwit address: bech32 or bech32m checksum over hrp 'bc'."""
    s = value.lower()
    hrp, _, data = s.rpartition("1")
    if hrp != "bc" or len(data) < 6:
        return False
    vals = [_BECH32.index(c) for c in data]
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    return _bech32_polymod(expanded + vals) in (1, 0x2BC830A3)


@safe
def crypto_wallet(value: str) -> bool:
    return bech32_address(value) if value.lower().startswith("bc1") else base58check(value)


@safe
def eth_address(value: str) -> bool:
    h = value[2:]
    return len(h) == 40 and not _all_same(h) and len(set(h.lower())) > 6


_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}


@safe
def birth_date(value: str) -> bool:
    """A plausible calendar date between 1900 and 2030 (context decides if it is a birth date)."""
    s = value.strip()
    parts = [p for p in "".join(c if c.isalnum() else " " for c in s).split() if p]
    if len(parts) != 3:
        return False
    if parts[1][:3].lower() in _MONTHS:
        dd, mm, yy = int(parts[0]), _MONTHS[parts[1][:3].lower()], int(parts[2])
        return 1900 <= yy <= 2030 and _date_ok(yy, mm, dd)
    nums = [int(p) for p in parts]
    if len(parts[0]) == 4:
        return 1900 <= nums[0] <= 2030 and _date_ok(nums[0], nums[1], nums[2])
    yy = nums[2]
    if not 1900 <= yy <= 2030:
        return False
    return _date_ok(yy, nums[1], nums[0]) or _date_ok(yy, nums[0], nums[1])


@safe
def has_digit(value: str) -> bool:
    d = digits(value)
    return bool(d) and not _all_same(alnum(value))


@safe
def icd10(value: str) -> bool:
    s = value.strip().upper()
    return 3 <= len(s.replace(".", "")) <= 7 and s[0] != "U"


# --- secrets --------------------------------------------------------------------------------


def format_only(value: str) -> bool:
    """The pattern is specific enough on its own (PEM headers, service-account JSON)."""
    return True


def shannon_entropy(s: str) -> float:
    if not s:
        return 0.0
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


_PLACEHOLDER_WORDS = ("example", "xxxxxx", "placeholder", "changeme", "your_", "dummy", "sample")


def not_placeholder(value: str) -> bool:
    low = value.lower()
    return not any(w in low for w in _PLACEHOLDER_WORDS)


def entropy_at_least(bits: float) -> Callable[[str], bool]:
    """A validator: the value is not a placeholder and has at least ``bits`` of entropy/char."""

    @safe
    def check(value: str) -> bool:
        return not_placeholder(value) and shannon_entropy(value) >= bits

    check.__name__ = f"entropy>={bits}"
    return check


@safe
def jwt(value: str) -> bool:
    """A JWS compact serialisation whose header decodes to JSON with an ``alg``."""
    import base64

    import orjson

    head = value.split(".", 1)[0]
    raw = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
    obj = orjson.loads(raw)
    return isinstance(obj, dict) and "alg" in obj


@safe
def basic_auth_url(value: str) -> bool:
    """URL userinfo with a password that is not an obvious placeholder."""
    creds = value.split("://", 1)[1].rsplit("@", 1)[0]
    _user, _, pw = creds.partition(":")
    if not pw or pw.startswith(("$", "{", "<", "%")) or _all_same(pw):
        return False
    return pw.lower() not in {"password", "pass", "secret", "passwd", "pwd", "changeme"}
