# ruff: noqa: E501  (generator tables read better one entry per line)
"""Deterministic labelled corpus for the DLP accuracy harness and the benchmark.

Every value is synthetic and generated from a seeded ``random.Random``: valid identifiers are
built with their real check digits, secrets are random bodies in each provider's token format,
and hard negatives (invalid Luhn, wrong IBAN check digits, SSN 000-, order ids, UUIDs,
timestamps, phone-like numbers, allow-listed test cards) are mixed in. Records look like the
JSON that CRM, HR, payments, chat and webhook APIs send. Labels are (record, path, type).
"""

from __future__ import annotations

import base64
import hashlib
import random
import string
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
import phonenumbers

from ringfence.classify import BUILTIN_DETECTORS, Detector
from ringfence.classify import _idnumbers as ids
from ringfence.classify import _validators as v

FIRST = ["Jane", "Amit", "Sofia", "Lukas", "Mei", "Oluwaseun", "Chloé", "Mateo", "Aiko", "Lars"]
LAST = ["Doe", "Sharma", "García", "Müller", "Chen", "Adeyemi", "Martin", "Rossi", "Tanaka"]
DOMAINS = ["acme.io", "example.org", "globex.co.uk", "initech.de", "umbrella.fr", "hooli.com.br"]


def _d(r: random.Random, n: int) -> str:
    return "".join(r.choice(string.digits) for _ in range(n))


def _luhn_complete(body: str) -> str:
    for c in string.digits:
        if v.luhn_ok(body + c):
            return body + c
    raise AssertionError


# --- valid value generators, one per type id ------------------------------------------------


def gen_card(r: random.Random) -> str:
    prefix, length = r.choice(
        [
            ("4", 16),
            ("51", 16),
            ("55", 16),
            ("2221", 16),
            ("34", 15),
            ("37", 15),
            ("6011", 16),
            ("65", 16),
            ("3530", 16),
            ("36", 14),
        ]
    )
    num = _luhn_complete(prefix + _d(r, length - len(prefix) - 1))
    if r.random() < 0.5 and length == 16:
        sep = r.choice([" ", "-"])
        return sep.join(num[i : i + 4] for i in range(0, 16, 4))
    return num


IBAN_BBAN = {"DE": "n18", "FR": "n23", "GB": "a4n14", "ES": "n20", "IT": "a1n22", "NL": "a4n10",
             "BE": "n12", "CH": "n17", "AT": "n16", "PL": "n24"}  # fmt: skip


def gen_iban(r: random.Random) -> str:
    cc, spec = r.choice(sorted(IBAN_BBAN.items()))
    bban = ""
    i = 0
    while i < len(spec):
        kind, j = spec[i], i + 1
        while j < len(spec) and spec[j].isdigit():
            j += 1
        n = int(spec[i + 1 : j])
        bban += "".join(r.choice(string.ascii_uppercase if kind == "a" else string.digits)
                        for _ in range(n))  # fmt: skip
        i = j
    check = 98 - v.mod97(bban + cc + "00")
    iban = f"{cc}{check:02d}{bban}"
    if r.random() < 0.5:
        return " ".join(iban[k : k + 4] for k in range(0, len(iban), 4))
    return iban


def gen_ssn(r: random.Random) -> str:
    while True:
        s = f"{r.randint(1, 899):03d}-{r.randint(1, 99):02d}-{r.randint(1, 9999):04d}"
        if ids.us_ssn(s):
            return s


def _find(r: random.Random, make: Any, check: Any) -> str:
    for _ in range(10_000):
        s = make()
        if check(s):
            return str(s)
    raise AssertionError("generator could not find a valid value")


def gen_nino(r: random.Random) -> str:
    ok = "ABCEGHJKLMNOPRSTWXYZ"
    return _find(r, lambda: f"{r.choice(ok)}{r.choice(ok)} {_d(r, 2)} {_d(r, 2)} {_d(r, 2)} "
                 f"{r.choice('ABCD')}", ids.uk_nino)  # fmt: skip


def gen_digits_valid(n: int, check: Any, first: str = "123456789") -> Any:
    def gen(r: random.Random) -> str:
        return _find(r, lambda: r.choice(first) + _d(r, n - 1), check)

    return gen


def gen_nir(r: random.Random) -> str:
    body = f"{r.choice('12')}{_d(r, 2)}{r.randint(1, 12):02d}{r.randint(1, 95):02d}{_d(r, 6)}"
    return f"{body}{97 - int(body) % 97:02d}"


def gen_dni(r: random.Random) -> str:
    n = _d(r, 8)
    return n + "TRWAGMYFPDXBNJZSQVHLCKE"[int(n) % 23]


def gen_nie(r: random.Random) -> str:
    p, n = r.choice("XYZ"), _d(r, 7)
    return p + n + "TRWAGMYFPDXBNJZSQVHLCKE"[int(str("XYZ".index(p)) + n) % 23]


def gen_cf(r: random.Random) -> str:
    up = string.ascii_uppercase
    body = ("".join(r.choice(up) for _ in range(6)) + _d(r, 2) + r.choice("ABCDEHLMPRST")
            + f"{r.randint(1, 71):02d}" + r.choice(up) + _d(r, 3))  # fmt: skip
    return _find(r, lambda: body + r.choice(up), ids.it_codice_fiscale)


def gen_aadhaar(r: random.Random) -> str:
    s = _find(r, lambda: r.choice("23456789") + _d(r, 11), ids.in_aadhaar)
    return f"{s[:4]} {s[4:8]} {s[8:]}"


def gen_pan(r: random.Random) -> str:
    up = string.ascii_uppercase
    return ("".join(r.choice(up) for _ in range(3)) + r.choice("PCHF") + r.choice(up) + _d(r, 4)
            + r.choice(up))  # fmt: skip


def gen_cpf(r: random.Random) -> str:
    s = _find(r, lambda: _d(r, 11), ids.br_cpf)
    return f"{s[:3]}.{s[3:6]}.{s[6:9]}-{s[9:]}"


def gen_cnpj(r: random.Random) -> str:
    s = _find(r, lambda: _d(r, 8) + "0001" + _d(r, 2), ids.br_cnpj)
    return f"{s[:2]}.{s[2:5]}.{s[5:8]}/{s[8:12]}-{s[12:]}"


def gen_nric(r: random.Random) -> str:
    return _find(r, lambda: r.choice("STFG") + _d(r, 7) + r.choice(string.ascii_uppercase),
                 ids.sg_nric)  # fmt: skip


def gen_pesel(r: random.Random) -> str:
    return _find(r, lambda: f"{r.randint(40, 99)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}"
                 + _d(r, 5), ids.pl_pesel)  # fmt: skip


def gen_personnummer(r: random.Random) -> str:
    return _find(r, lambda: f"{r.randint(40, 99)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}-"
                 + _d(r, 4), ids.se_personnummer)  # fmt: skip


def gen_hetu(r: random.Random) -> str:
    base = f"{r.randint(1, 28):02d}{r.randint(1, 12):02d}{r.randint(40, 99)}"
    n = _d(r, 3)
    return base + "-" + n + "0123456789ABCDEFHJKLMNPRSTUVWXY"[int(base + n) % 31]


def gen_be(r: random.Random) -> str:
    b = f"{r.randint(40, 99)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}{_d(r, 3)}"
    c = 97 - int(b) % 97
    return f"{b[:2]}.{b[2:4]}.{b[4:6]}-{b[6:9]}.{c:02d}"


def gen_cn(r: random.Random) -> str:
    body = f"110105{r.randint(1950, 2005)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}{_d(r, 3)}"
    return _find(r, lambda: body + r.choice("0123456789X"), ids.cn_resident_id)


def gen_za(r: random.Random) -> str:
    return _find(r, lambda: f"{r.randint(40, 99)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}"
                 + _d(r, 4) + "08" + _d(r, 1), ids.za_id)  # fmt: skip


def gen_fnr(r: random.Random) -> str:
    return _find(r, lambda: f"{r.randint(1, 28):02d}{r.randint(1, 12):02d}{r.randint(40, 99)}"
                 + _d(r, 5), ids.no_fnr)  # fmt: skip


def gen_dea(r: random.Random) -> str:
    return _find(r, lambda: r.choice("ABFM") + r.choice(string.ascii_uppercase) + _d(r, 7),
                 ids.us_dea)  # fmt: skip


def gen_vin(r: random.Random) -> str:
    al = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    return _find(r, lambda: "".join(r.choice(al) for _ in range(17)), ids.vin)


def gen_phone(r: random.Random) -> str:
    region = r.choice(["US", "GB", "DE", "FR", "IN", "BR", "AU", "ES"])
    ex = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    for _ in range(200):
        nsn = str(ex.national_number)
        cand = nsn[:-4] + _d(r, 4)
        num = phonenumbers.parse("+" + str(ex.country_code) + cand)
        if phonenumbers.is_valid_number(num):
            return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    raise AssertionError


def gen_phone_national(r: random.Random) -> str:
    return _find(r, lambda: f"({r.randint(201, 989)}) {r.randint(200, 999)}-{_d(r, 4)}", v.phone)


def gen_email(r: random.Random) -> str:
    f, last = r.choice(FIRST), r.choice(LAST)
    local = f"{f}.{last}".lower().encode("ascii", "ignore").decode()
    return f"{local}{r.randint(1, 99)}@{r.choice(DOMAINS)}"


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def gen_btc(r: random.Random) -> str:
    payload = bytes([0]) + r.randbytes(20)
    raw = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    n = int.from_bytes(raw, "big")
    out = ""
    while n:
        n, rem = divmod(n, 58)
        out = _B58[rem] + out
    return "1" * (len(raw) - len(raw.lstrip(b"\0"))) + out


def gen_aba(r: random.Random) -> str:
    return _find(r, lambda: f"{r.choice(['01', '02', '11', '21', '26', '31', '06'])}" + _d(r, 7),
                 v.aba_routing)  # fmt: skip


GENERATORS: dict[str, Any] = {
    "email_address": gen_email,
    "phone_number": gen_phone,
    "phone_number_national": gen_phone_national,
    "credit_card_number": gen_card,
    "iban_code": gen_iban,
    "swift_code": lambda r: r.choice(["DEUT", "BNPA", "BARC", "CHAS", "INGB"])
    + r.choice(["DE", "FR", "GB", "US", "NL"]) + r.choice(["FF", "2L", "22", "33"]),
    "american_bankers_cusip_id": gen_aba,
    "us_bank_account_number": lambda r: _d(r, r.randint(8, 12)),
    "us_social_security_number": gen_ssn,
    "us_individual_taxpayer_identification_number": lambda r: f"9{_d(r, 2)}-{r.randint(70, 88)}-{_d(r, 4)}",
    "us_employer_identification_number": lambda r: f"{r.choice([10, 12, 20, 35, 46, 61, 94])}-{_d(r, 7)}",
    "uk_national_insurance_number": gen_nino,
    "uk_nhs_number": gen_digits_valid(10, ids.uk_nhs),
    "canada_social_insurance_number": gen_digits_valid(9, ids.ca_sin, "1234567"),
    "france_nir": gen_nir,
    "spain_dni_number": gen_dni,
    "spain_nie_number": gen_nie,
    "italy_fiscal_code": gen_cf,
    "netherlands_bsn_number": gen_digits_valid(9, ids.nl_bsn),
    "germany_taxpayer_identification_number": gen_digits_valid(11, ids.de_tax_id),
    "india_aadhaar_individual": gen_aadhaar,
    "india_pan_individual": gen_pan,
    "brazil_cpf_number": gen_cpf,
    "brazil_cnpj_number": gen_cnpj,
    "australia_tax_file_number": gen_digits_valid(9, ids.au_tfn),
    "australian_business_number": gen_digits_valid(11, ids.au_abn),
    "australia_medicare_number": gen_digits_valid(10, ids.au_medicare, "23456"),
    "singapore_national_registration_id_number": gen_nric,
    "poland_pesel_number": gen_pesel,
    "sweden_national_id_number": gen_personnummer,
    "finland_national_id_number": gen_hetu,
    "belgium_national_id_card_number": gen_be,
    "china_resident_id_number": gen_cn,
    "south_africa_id_number": gen_za,
    "norway_national_id_number": gen_fnr,
    "us_healthcare_npi": gen_digits_valid(10, ids.us_npi, "12"),
    "us_dea_number": gen_dea,
    "passport": lambda r: r.choice(string.ascii_uppercase) + _d(r, 8),
    "drivers_license_number": lambda r: r.choice(string.ascii_uppercase) + _d(r, 7),
    "date_of_birth": lambda r: f"{r.randint(1950, 2004)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
    "ip_address": lambda r: f"{r.randint(11, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
    "ipv6_address": lambda r: "2001:db8:" + ":".join(f"{r.randint(0, 65535):x}" for _ in range(6)),
    "mac_address": lambda r: ":".join(f"{r.randint(0, 255):02x}" for _ in range(6)),
    "crypto_wallet_address": gen_btc,
    "ethereum_address": lambda r: "0x" + r.randbytes(20).hex(),
    "vehicle_identification_number": gen_vin,
    "medical_record_number": lambda r: "MRN-" + _d(r, 8),
    "icd10_code": lambda r: r.choice("EIJKMS") + _d(r, 2) + "." + _d(r, 1),
}  # fmt: skip

SPECIAL_SECRETS: dict[str, Any] = {
    "json_web_token": lambda r: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    + base64.urlsafe_b64encode(orjson.dumps({"sub": _d(r, 8), "iat": 1700000000})).decode().rstrip("=")
    + "." + base64.urlsafe_b64encode(r.randbytes(32)).decode().rstrip("="),
    "basic_auth_url": lambda r: f"postgres://svc_{_d(r, 3)}:{_rand(r, 14)}@db{_d(r, 2)}.internal.acme.io",
    "private_key": lambda r: "-----BEGIN " + r.choice(["RSA ", "EC ", "", "OPENSSH "]) + "PRIVATE KEY-----\n"
    + base64.b64encode(r.randbytes(48)).decode(),
    "gcp_service_account_key": None,
    "generic_secret_assignment": lambda r: f"client_secret={_rand(r, 32)}",
    "generic_secret_field": None,
}  # fmt: skip


def _rand(r: random.Random, n: int) -> str:
    return "".join(r.choice(string.ascii_letters + string.digits) for _ in range(n))


def mutate_secret(r: random.Random, det: Detector) -> str:
    """A fresh random token in the format of ``det.example``, checked against its pattern."""
    import re

    rx = re.compile(det.pattern, re.ASCII | (re.I if det.caseless else 0))
    ex = det.example
    keep = det.keep_prefix or 0
    for _ in range(200):
        out = list(ex)
        for i in range(keep, len(ex)):
            c = ex[i]
            if c.isdigit():
                out[i] = r.choice("234567" if det.id == "aws_access_key_id" else string.digits)
            elif c in "abcdef":
                out[i] = r.choice("abcdef")
            elif c.islower():
                out[i] = r.choice(string.ascii_lowercase)
            elif c.isupper():
                out[i] = r.choice(string.ascii_uppercase)
        s = "".join(out)
        m = rx.search(s)
        if m and (
            det.validator is None
            or det.validator(m.group("v") if "v" in rx.groupindex else m.group(0))
        ):
            return s
    return ex


# --- records -----------------------------------------------------------------------------


@dataclass
class Record:
    body: bytes
    labels: set[tuple[str, str]] = field(default_factory=set)  # (path, type_id)
    content_type: str = "application/json"


DETECTORS = {d.id: d for d in BUILTIN_DETECTORS}


def _ctx_key(det: Detector) -> str:
    for k in (*det.context, *det.keys):
        if k.replace(" ", "").isalpha() and len(k) > 2:
            return k.replace(" ", "_")
    return det.keys[0]


def positive(r: random.Random, type_id: str) -> str:
    det = DETECTORS[type_id]
    if type_id in GENERATORS:
        return str(GENERATORS[type_id](r))
    special = SPECIAL_SECRETS.get(type_id)
    if special is not None:
        return str(special(r))
    return mutate_secret(r, det)


def hard_negatives(r: random.Random) -> dict[str, Any]:
    card = gen_card(r).replace(" ", "").replace("-", "")
    bad_card = card[:-1] + str((int(card[-1]) + 1) % 10)
    iban = gen_iban(r).replace(" ", "")
    bad_iban = iban[:2] + f"{(int(iban[2:4]) + 1) % 100:02d}" + iban[4:]
    return {
        "order_id": f"ORD-{r.randint(2019, 2026)}-{_d(r, 6)}",
        "request_id": str(uuid.UUID(int=r.getrandbits(128))),
        "created": r.randint(1_600_000_000, 1_800_000_000),
        "created_ms": r.randint(1_600_000_000_000, 1_800_000_000_000),
        "timestamp": f"2025-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}T{r.randint(0, 23):02d}:{_d(r, 2)}:{_d(r, 2)}Z",
        "reference_card": bad_card,
        "legacy_iban": bad_iban,
        "invalid_ssn": f"000-{_d(r, 2)}-{_d(r, 4)}",
        "support_line": f"+1 555 0{_d(r, 3)}",
        "amount_cents": r.randint(100, 10_000_000),
        "sku": f"SKU-{_d(r, 9)}",
        "tracking_number": _d(r, 12),
        "version": f"{r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 99)}",
        "test_card": r.choice(["4111111111111111", "4242 4242 4242 4242", "5555555555554444"]),
        "commit": r.randbytes(20).hex(),
        "checksum": r.randbytes(16).hex(),
        "note": r.choice(["Order shipped", "Call back tomorrow", "Meeting at 10:30",
                          "Invoice 2024-0042 paid", "Room 4-112, building 7"]),
    }  # fmt: skip


NEGATIVE_SENTENCES = [
    "Ticket #{n} opened at {ts}; customer asked about invoice INV-{n}.",
    "Refund of order {d} processed, reference {bad} (card declined), trace {u}.",
    "Build {n} deployed to eu-west-1 at 2025-06-01T10:22:33Z, commit {u}.",
    "Call the front desk on 555-0100 ext {n} or see room 4-{n}.",
    "Shipment {d} weighs 12.5 kg, tracking {n}{n}, ETA 2025-07-04.",
    "Password reset link sent; token expires in 3600 seconds.",
]


PII_TYPES = sorted(GENERATORS)
SECRET_TYPES = sorted(d.id for d in BUILTIN_DETECTORS if d.category == "secret" and d.id not in
                      ("gcp_service_account_key", "generic_secret_field"))  # fmt: skip


def _record(r: random.Random, i: int) -> Record:
    rec = Record(b"")
    labels = rec.labels
    t_pii = r.sample(PII_TYPES, 3)
    t_sec = r.choice(SECRET_TYPES)
    first, last = r.choice(FIRST), r.choice(LAST)
    doc: dict[str, Any] = {
        "id": str(uuid.UUID(int=r.getrandbits(128))),
        "object": r.choice(["contact", "employee", "charge", "message", "event"]),
        "name": f"{first} {last}",
        "company": r.choice(["Acme", "Globex", "Initech"]),
        "meta": hard_negatives(r),
        "fields": {},
    }
    fields: dict[str, Any] = doc["fields"]
    for j, t in enumerate(t_pii):
        det = DETECTORS[t]
        val = positive(r, t)
        if r.random() < 0.15 and val.isascii():  # look-alike digits/letters (fullwidth forms)
            val = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in val)
        if r.random() < 0.5:
            key = _ctx_key(det) if det.needs_context or r.random() < 0.5 else f"value_{j}"
            key = key if key not in fields else f"{key}_{j}"
            fields[key] = val
            labels.add((f"$.fields.{key}", t))
        else:
            word = det.context[0] if det.context else ""
            if not det.needs_context and r.random() < 0.5:
                word = ""
            fields[f"note_{j}"] = f"Hi {first}, as discussed the {word} is {val} — thanks!".replace(
                "  ", " "
            )
            labels.add((f"$.fields.note_{j}", t))
    det = DETECTORS[t_sec]
    val = positive(r, t_sec)
    if det.needs_context:
        fields["config"] = f"{det.context[0]}: {val}"
    else:
        fields["config"] = f"token {val} rotated" if r.random() < 0.5 else val
    labels.add(("$.fields.config", t_sec))
    fields["history"] = r.choice(NEGATIVE_SENTENCES).format(
        n=_d(r, 6),
        d=_d(r, 10),
        ts=r.randint(1_600_000_000, 1_800_000_000),
        bad=hard_negatives(r)["reference_card"],
        u=uuid.UUID(int=r.getrandbits(128)),
    )
    rec.body = orjson.dumps({"data": [doc]} if i % 3 == 0 else doc)
    if i % 3 == 0:
        rec.labels = {(p.replace("$.", "$.data[0].", 1), t) for p, t in labels}
    return rec


def _as_csv(r: random.Random, recs: list[Record]) -> Record:
    """Flatten the ``fields`` of a few JSON records into one CSV body with a header row."""
    import csv
    import io

    rows: list[dict[str, str]] = []
    labels: set[tuple[str, str]] = set()
    for rec in recs:
        doc = orjson.loads(rec.body)
        doc = doc["data"][0] if "data" in doc else doc
        rows.append({k: str(val) for k, val in doc["fields"].items()})
    header = sorted({k for row in rows for k in row})
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for ri, (row, rec) in enumerate(zip(rows, recs, strict=True), start=1):
        w.writerow([row.get(h, "") for h in header])
        for path, t in rec.labels:
            key = path.rsplit(".", 1)[-1]
            labels.add((f"$[{ri}]" + (f".{key}" if key.isidentifier() else f'["{key}"]'), t))
    return Record(buf.getvalue().encode(), labels, "text/csv")


def corpus(n: int = 600, seed: int = 20261126) -> list[Record]:
    r = random.Random(seed)
    recs = [_record(r, i) for i in range(n)]
    csvs = [_as_csv(r, [_record(r, n + k * 4 + j) for j in range(4)]) for k in range(n // 20)]
    return recs + csvs


def payload(size: int, seed: int = 7) -> bytes:
    """A JSON array of records of about ``size`` bytes (for the benchmark)."""
    r = random.Random(seed)
    docs: list[Any] = []
    total = 2
    i = 0
    while total < size:
        b = _record(r, i).body
        docs.append(orjson.loads(b))
        total += len(b) + 1
        i += 1
    return orjson.dumps(docs)


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, rc = self.precision, self.recall
        return 2 * p * rc / (p + rc) if p + rc else 0.0


def evaluate(scan: Any, records: list[Record], min_confidence: float = 0.5) -> dict[str, Score]:
    """Per-type scores of ``scan(body, content_type) -> ScanResult``; key ``"*"`` is overall."""
    scores: dict[str, Score] = {"*": Score()}
    for rec in records:
        res = scan(rec.body, rec.content_type)
        got = {(f.path, f.type_id) for f in res.findings if f.confidence >= min_confidence}
        for path, t in got | rec.labels:
            s = scores.setdefault(t, Score())
            hit = (path, t) in got
            want = (path, t) in rec.labels
            for sc in (s, scores["*"]):
                sc.tp += hit and want
                sc.fp += hit and not want
                sc.fn += want and not hit
    return scores


def errors(scan: Any, records: list[Record], min_confidence: float = 0.5) -> list[str]:
    """Human-readable misses and false alarms (synthetic data only), for debugging."""
    out = []
    for i, rec in enumerate(records):
        res = scan(rec.body, rec.content_type)
        got = {(f.path, f.type_id) for f in res.findings if f.confidence >= min_confidence}
        doc = orjson.loads(rec.body) if rec.content_type == "application/json" else None
        for path, t in sorted(got ^ rec.labels):
            kind = "FP" if (path, t) in got else "FN"
            shown = _lookup(doc, path) if doc is not None else rec.content_type
            out.append(f"{kind} #{i} {t} {path} {shown!r}")
    return out


def _lookup(doc: Any, path: str) -> Any:
    import re

    node = doc
    for m in re.finditer(r"\.(\w+)|\[(\d+)\]", path):
        node = node[m.group(1)] if m.group(1) else node[int(m.group(2))]
    return node


def typical_payload(seed: int, size: int = 4096) -> bytes:
    """A CRM-style "list contacts" page: a few emails/phones among ids, dates and URLs."""
    r = random.Random(seed)
    results: list[dict[str, Any]] = []
    body = b""
    while len(body) < size:
        first, last = r.choice(FIRST), r.choice(LAST)
        cid = _d(r, 11)
        results.append(
            {
                "id": cid,
                "properties": {
                    "createdate": f"2025-0{r.randint(1, 9)}-1{r.randint(0, 9)}T10:{_d(r, 2)}:00.000Z",
                    "email": gen_email(r) if r.random() < 0.6 else None,
                    "firstname": first,
                    "lastname": last,
                    "phone": gen_phone(r) if r.random() < 0.2 else None,
                    "hs_object_id": cid,
                    "lifecyclestage": r.choice(["lead", "customer", "subscriber"]),
                    "hubspot_owner_id": _d(r, 8),
                    "lastmodifieddate": f"2025-10-{r.randint(10, 28)}T08:{_d(r, 2)}:12.345Z",
                },
                "createdAt": "2025-01-15T10:22:33.000Z",
                "archived": False,
                "url": f"https://app.example.com/contacts/{cid}",
            }
        )
        body = orjson.dumps({"results": results, "paging": {"next": {"after": _d(r, 3)}}})
    return body


def clean_payload(seed: int, size: int = 4096) -> bytes:
    """A payload without personal data or secrets (metrics/config style)."""
    r = random.Random(seed)
    items: list[dict[str, Any]] = []
    body = b""
    while len(body) < size:
        items.append(
            {
                "name": r.choice(["deploy", "sync", "export", "import"])
                + f"-job-{r.randint(1, 99)}",
                "status": r.choice(["ok", "failed", "running"]),
                "duration_ms": r.randint(1, 100000),
                "region": r.choice(["eu-west-1", "us-east-2"]),
                "labels": {"team": r.choice(["core", "data", "web"]), "tier": r.randint(1, 3)},
            }
        )
        body = orjson.dumps({"items": items})
    return body
