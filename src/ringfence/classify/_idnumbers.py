"""Check-digit validators of national and health identifiers (SSN, NINO, NIR, CPF, ...).

Same contract as ``_validators``: take the candidate as matched (separators included), return a
bool, never raise (``safe``) and never log or keep the value. Each follows the public
specification of its identifier (cited in docs/classification.md).
"""

from __future__ import annotations

from collections import Counter

from ringfence.classify._validators import (
    all_same,
    alnum,
    consistent_separators,
    date_ok,
    digits,
    luhn_ok,
    safe,
)

_SSN_KNOWN_FAKE = {"078051120", "219099999", "123456789", "111111111", "457555462"}


@safe
def us_ssn(value: str) -> bool:
    """SSA rules: area not 000/666/9xx, group not 00, serial not 0000; known fakes refused."""
    d = digits(value)
    if len(d) != 9 or not consistent_separators(value) or d in _SSN_KNOWN_FAKE:
        return False
    area, group, serial = int(d[:3]), int(d[3:5]), int(d[5:])
    return area not in (0, 666) and area < 900 and group != 0 and serial != 0


@safe
def us_itin(value: str) -> bool:
    """IRS ITIN: starts with 9, group 50-65, 70-88, 90-92 or 94-99."""
    d = digits(value)
    if len(d) != 9 or d[0] != "9" or not consistent_separators(value):
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
    if len(d) != 10 or all_same("".join(map(str, d))):
        return False
    check = 11 - sum(w * x for w, x in zip(range(10, 1, -1), d[:9], strict=True)) % 11
    check = 0 if check == 11 else check
    return check != 10 and check == d[9]


@safe
def ca_sin(value: str) -> bool:
    """Canada SIN: 9 digits, Luhn, first digit not 0 or 8."""
    d = digits(value)
    return len(d) == 9 and d[0] not in "08" and luhn_ok(d) and consistent_separators(value)


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
    return len(d) == 12 and d[0] not in "01" and consistent_separators(value) and verhoeff_ok(d)


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


@safe
def pl_pesel(value: str) -> bool:
    """Poland PESEL: 11 digits, encoded birth date, weighted check digit."""
    d = [int(c) for c in digits(value)]
    if len(d) != 11:
        return False
    month = d[2] * 10 + d[3]
    century = {0: 1900, 20: 2000, 40: 2100, 60: 2200, 80: 1800}[month // 20 * 20]
    if not date_ok(century + d[0] * 10 + d[1], month % 20, d[4] * 10 + d[5]):
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
    if not date_ok(2000 + int(d[:2]), int(d[2:4]), day):
        return False
    return luhn_ok(d)


_HETU_CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"


@safe
def fi_hetu(value: str) -> bool:
    """Finland HETU: DDMMYY, century sign, NNN, mod-31 check character."""
    s = value.strip().upper()
    if len(s) != 11 or s[6] not in "+-ABCDEFUVWXY" or not (s[:6] + s[7:10]).isdigit():
        return False
    if not date_ok(2000 + int(s[4:6]), int(s[2:4]), int(s[:2])):
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
    if not date_ok(int(s[6:10]), int(s[10:12]), int(s[12:14])):
        return False
    total = sum(int(c) * w for c, w in zip(s[:17], _CN_WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == s[17]


@safe
def za_id(value: str) -> bool:
    """South Africa ID: YYMMDD SSSS C A Z, Luhn over 13 digits."""
    d = digits(value)
    if len(d) != 13 or d[10] not in "01":
        return False
    return date_ok(2000 + int(d[:2]), int(d[2:4]), int(d[4:6])) and luhn_ok(d)


@safe
def no_fnr(value: str) -> bool:
    """Norway fødselsnummer: DDMMYY + 3 + two mod-11 check digits."""
    d = [int(c) for c in digits(value)]
    if len(d) != 11:
        return False
    day = d[0] * 10 + d[1]
    day = day - 40 if day > 40 else day
    if not date_ok(2000 + d[4] * 10 + d[5], d[2] * 10 + d[3], day):
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
