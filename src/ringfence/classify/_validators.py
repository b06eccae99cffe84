"""Check-digit and structure validators that turn a pattern hit into a confident finding.

Each validator takes the candidate text exactly as matched (separators included), returns a bool
and never raises: malformed input is simply invalid. Validators must never log or keep the value.
Algorithms follow the public specifications of each identifier (cited in docs/classification.md).
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

from ringfence.classify._accel import NATIVE
from ringfence.classify._phone import international_valid, native_codes
from ringfence.classify._phone_dfa import table_or_none

_NOT_DIGIT = re.compile(r"[^0-9]+")
_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]+")


def _digits_py(value: str) -> str:
    return _NOT_DIGIT.sub("", value)


# Its ASCII digits; the native twin is the same (tests/classify/test_native.py) without a
# regex call (most validators start here).
digits: Callable[[str], str] = _digits_py if NATIVE is None else NATIVE.digits


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


def all_same(s: str) -> bool:
    return not s or s.count(s[0]) == len(s)  # len(set(s)) <= 1 without building the set


def _luhn_ok_py(num: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(num)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _consistent_separators_py(value: str) -> bool:
    seps = {c for c in value if not c.isalnum()}
    return len(seps) <= 1


# The native twins decide exactly the same (tests/classify/test_native.py), several times faster.
luhn_ok: Callable[[str], bool] = _luhn_ok_py
consistent_separators: Callable[[str], bool] = _consistent_separators_py
_native_card: Callable[[str], bool] | None = None
_native_email: Callable[[str], bool] | None = None
if NATIVE is not None:
    luhn_ok, consistent_separators = NATIVE.luhn_ok, NATIVE.consistent_separators
    _native_card, _native_email = NATIVE.payment_card, NATIVE.email


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
    if _native_card is not None:
        return _native_card(value)
    return _payment_card_py(value)


def _payment_card_py(value: str) -> bool:
    num = digits(value)
    if not 13 <= len(num) <= 19 or not consistent_separators(value) or all_same(num):
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


def _mod97_py(s: str) -> int:
    return int("".join(str(int(c, 36)) for c in s)) % 97


mod97: Callable[[str], int] = _mod97_py if NATIVE is None else NATIVE.mod97


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
    return total % 10 == 0 and not all_same("".join(map(str, d)))


@safe
def bank_account(value: str) -> bool:
    d = digits(value)
    return 6 <= len(d) <= 17 and not all_same(d)


def date_ok(yy: int, mm: int, dd: int) -> bool:
    try:
        _dt.date(yy, mm, dd)
    except ValueError:
        return False
    return True


# --- network, crypto, dates ----------------------------------------------------------------


@safe
def email(value: str) -> bool:
    if _native_email is not None:
        return _native_email(value)
    return _email_py(value)


# The native twins the native confirmation loop calls directly (a C call instead of the two
# Python frames of ``safe`` and the dispatch above): the same answer for every str, which is
# all that loop passes (tests/classify/test_native.py holds each twin to its Python code).
NATIVE_TWINS: dict[Callable[[str], bool], Callable[[str], bool]] = {}
if _native_email is not None and _native_card is not None:
    NATIVE_TWINS = {email: _native_email, payment_card: _native_card}


def _email_py(value: str) -> bool:
    local, _, domain = value.rpartition("@")
    if not local or local[0] == "." or local[-1] == "." or ".." in local or len(local) > 64:
        return False
    labels = domain.split(".")
    if len(labels) < 2 or not labels[-1].isalpha():
        return False
    return all(lb and lb[0] != "-" and lb[-1] != "-" for lb in labels)


@lru_cache(maxsize=4096)
def _phone_parse(value: str, region: str | None) -> bool:
    if region is None:
        # Plain international numbers are decided from the same metadata without the
        # general parser (exact; ~7x faster); anything else goes to phonenumbers.
        fast = international_valid(value)
        if fast is not None:
            return fast
    num = phonenumbers.parse(value, region)
    return bool(phonenumbers.is_valid_number(num))


@safe
def phone(value: str) -> bool:
    """phonenumbers validity; international form when '+', else US/GB/DE/FR numbering plans."""
    d = digits(value)
    if not 7 <= len(d) <= 15 or all_same(d):
        return False
    s = value.strip()
    if s.startswith("+"):
        return _phone_parse(s, None)
    if len(d) == 8 and s[4:5] == "-" and s[:4].isdigit():  # looks like a date 2024-0115
        return False
    return any(_phone_parse(s, r) for r in ("US", "GB", "DE", "FR"))


# The phone twin decides plain international numbers from the plans _phone registers with it
# (the same metadata, patterns as digit tables) and calls ``phone`` for everything else.
if NATIVE is not None and hasattr(NATIVE, "phone_setup"):
    NATIVE.phone_setup(phone, table_or_none, native_codes())
    NATIVE_TWINS[phone] = NATIVE.phone


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
    return consistent_separators(value) and len(h) == 12 and h not in ("000000000000", "f" * 12)


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


_KECCAK_RC = [
    0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
    0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
    0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
]  # fmt: skip
_KECCAK_ROT = [[0, 36, 3, 41, 18], [1, 44, 10, 45, 2], [62, 6, 43, 15, 61],
               [28, 55, 25, 21, 56], [27, 20, 39, 8, 14]]  # fmt: skip
_M64 = (1 << 64) - 1


def _rol(v: int, n: int) -> int:
    return ((v << n) | (v >> (64 - n))) & _M64 if n else v


def keccak256(data: bytes) -> bytes:
    """Original Keccak-256 (pad 0x01, as Ethereum uses; ``hashlib.sha3_256`` pads 0x06)."""
    rate = 136
    msg = bytearray(data) + b"\x01" + b"\x00" * ((-len(data) - 1) % rate)
    msg[-1] |= 0x80
    a = [[0] * 5 for _ in range(5)]
    for off in range(0, len(msg), rate):
        for i in range(rate // 8):
            a[i % 5][i // 5] ^= int.from_bytes(msg[off + 8 * i : off + 8 * i + 8], "little")
        for rc in _KECCAK_RC:
            c = [a[x][0] ^ a[x][1] ^ a[x][2] ^ a[x][3] ^ a[x][4] for x in range(5)]
            d = [c[(x - 1) % 5] ^ _rol(c[(x + 1) % 5], 1) for x in range(5)]
            b = [[0] * 5 for _ in range(5)]
            for x in range(5):
                for y in range(5):
                    b[y][(2 * x + 3 * y) % 5] = _rol(a[x][y] ^ d[x], _KECCAK_ROT[x][y])
            a = [
                [b[x][y] ^ (~b[(x + 1) % 5][y] & b[(x + 2) % 5][y]) for y in range(5)]
                for x in range(5)
            ]
            a[0][0] ^= rc
    return b"".join(a[i % 5][i // 5].to_bytes(8, "little") for i in range(4))


@safe
def eth_address(value: str) -> bool:
    """Ethereum address; a mixed-case one must carry a valid EIP-55 checksum."""
    h = value[2:]
    if len(h) != 40 or all_same(h) or len(set(h.lower())) <= 6:
        return False
    if h.islower() or h.isupper() or h.isdigit():
        return True
    digest = keccak256(h.lower().encode()).hex()
    return all(
        (c.isupper() if int(digest[i], 16) >= 8 else not c.isupper())
        for i, c in enumerate(h)
        if c.isalpha()
    )


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
        return 1900 <= yy <= 2030 and date_ok(yy, mm, dd)
    nums = [int(p) for p in parts]
    if len(parts[0]) == 4:
        return 1900 <= nums[0] <= 2030 and date_ok(nums[0], nums[1], nums[2])
    yy = nums[2]
    if not 1900 <= yy <= 2030:
        return False
    return date_ok(yy, nums[1], nums[0]) or date_ok(yy, nums[0], nums[1])


@safe
def has_digit(value: str) -> bool:
    d = digits(value)
    return bool(d) and not all_same(alnum(value))


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
    if not pw or pw.startswith(("$", "{", "<", "%")) or all_same(pw):
        return False
    return pw.lower() not in {"password", "pass", "secret", "passwd", "pwd", "changeme"}
