# ruff: noqa: E501  (one rule per entry reads better than wrapped regexes)
"""Catalogue of personal, financial, government, health and network data types.

Declarative only: each entry is a pattern, a validator from ``_validators`` and context hints.
Identifiers follow the vocabulary of common DLP infoTypes (e.g. ``CREDIT_CARD_NUMBER`` becomes
``credit_card_number``). This module never evaluates anything by itself.
"""

from __future__ import annotations

from ringfence.classify import _idnumbers as ids
from ringfence.classify import _validators as v
from ringfence.classify._model import Detector
from ringfence.core.levels import DataClass

C, R, I = DataClass.CONFIDENTIAL, DataClass.RESTRICTED, DataClass.INTERNAL  # noqa: E741

#: Words near a value that make a national id / account plausible (used by several types).
_ID_WORDS = ("id number", "identity", "national id", "citizen", "tax id", "taxpayer")
#: A window probe's class of ASCII digits (the patterns are compiled with re.ASCII).
_DIGIT = "0123456789"

#: The email address pattern (re.ASCII) and its local part's characters. The native engine
#: matches exactly this pattern without ``re`` (``_native.email_spans``); another pattern or
#: class under the email detector's id takes the ``re`` path.
EMAIL_PATTERN = r"\b[A-Za-z0-9._%+\-]{1,64}@(?:[A-Za-z0-9\-]{1,63}\.){1,8}[A-Za-z]{2,24}\b"
EMAIL_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-"
#: The email prefilter: checked natively at each '@' (``_native.anchor_starts`` without a
#: match function) instead of by its bytes ``re.match``.
EMAIL_PREFILTER = r"[A-Za-z0-9._%+\-]@[A-Za-z0-9\-]{1,63}\.[A-Za-z0-9]"
#: The payment card pattern: its prefilter starts are found natively (``_native.card_starts``,
#: what a Hyperscan scan of it reports) instead of by a database scan of their own.
CARD_PATTERN = r"\b(?:\d[ \-]?){12,18}\d\b"
#: The international phone number pattern (its own prefilter): checked natively at each '+'
#: (``_native.anchor_starts`` without a match function) instead of by its bytes ``re.match``.
PHONE_PATTERN = r"\+\d{1,3}[ .\-]?(?:\(\d{1,4}\)[ .\-]?)?\d{1,4}(?:[ .\-]?\d{2,5}){1,4}\b"

PII_DETECTORS: tuple[Detector, ...] = (
    Detector(
        "email_address", "Email address", C, "pii",
        EMAIL_PATTERN,
        v.email, "RFC 5322 shape", base=0.85, context=("email", "e-mail", "mail"),
        keys=("email", "mail"), mask="email", example="jane.doe@example.org",
        prefilter=EMAIL_PREFILTER, prefilter_lookbehind=64,
        start_chars=EMAIL_START,
    ),
    Detector(
        "phone_number", "Phone number (international)", C, "pii",
        PHONE_PATTERN,
        v.phone, "phonenumbers is_valid_number", base=0.75,
        context=("phone", "tel", "mobile", "cell", "call", "fax", "whatsapp"),
        keys=("phone", "mobile", "tel", "fax", "cell"), mask="last4", example="+44 20 7946 0958",
    ),
    Detector(
        "phone_number_national", "Phone number (national format)", C, "pii",
        r"(?:\(\d{2,4}\)[ .\-]?|\b\d{2,4}[ .\-])\d{3,4}[ .\-]?\d{3,4}\b",
        v.phone, "phonenumbers is_valid_number (US/GB/DE/FR)", base=0.3, needs_context=True,
        context=("phone", "tel", "mobile", "cell", "call me", "fax", "contact"),
        keys=("phone", "mobile", "tel", "fax", "cell"), mask="last4", example="(415) 555-2671",
        # every match starts "(" + digit, or has digit, separator, digit (\d{2,4}[ .\-]\d{3,4})
        window_probe=(("(", _DIGIT), (_DIGIT, " .-", _DIGIT)),
    ),
    Detector(
        "credit_card_number", "Payment card number", R, "financial",
        CARD_PATTERN,
        v.payment_card, "Luhn + issuer prefix/length", base=0.9,
        context=("card", "visa", "mastercard", "amex", "credit", "debit", "pan"),
        keys=("card", "ccnum", "pan", "ccn"), mask="last4", short_len=13, example="4556 7375 8689 9855",
    ),
    Detector(
        "iban_code", "IBAN", R, "financial",
        r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b",
        v.iban, "ISO 13616 length + mod 97", base=0.9,
        context=("iban", "bank", "account", "sepa"), keys=("iban", "account"),
        mask="last4", example="DE89 3704 0044 0532 0130 00",
    ),
    Detector(
        "swift_code", "SWIFT/BIC code", I, "financial",
        r"\b[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?\b",
        v.swift_bic, "ISO 9362 structure", base=0.2, needs_context=True,
        context=("swift", "bic", "bank"), keys=("swift", "bic"), mask="full", example="DEUTDEFF500",
    ),
    Detector(
        "american_bankers_cusip_id", "US ABA routing number", I, "financial",
        r"\b\d{9}\b", v.aba_routing, "ABA 3-7-1 checksum", base=0.2, needs_context=True,
        context=("routing", "aba", "rtn", "transit"), keys=("routing", "aba", "rtn"),
        mask="last4", example="011000015",
    ),
    Detector(
        "us_bank_account_number", "US bank account number", R, "financial",
        r"\b\d{6,17}\b", v.bank_account, "length + context", base=0.2, needs_context=True,
        context=("account number", "acct", "bank account", "account no"),
        keys=("accountnumber", "acctno", "bankaccount", "acctnum"), mask="last4",
        example="000123456789",
    ),
    Detector(
        "us_social_security_number", "US SSN", R, "government_id",
        r"\b\d{3}[ \-]\d{2}[ \-]\d{4}\b|\b\d{9}\b", ids.us_ssn, "SSA area/group/serial rules",
        base=0.45, context=("ssn", "social security", "soc sec"),
        keys=("ssn", "socialsecurity"), mask="last4", separated_bonus=0.3, bare_needs_context=True, formatted=r"\b\d{3}[ \-]\d{2}[ \-]\d{4}\b", example="536-90-4399",
    ),
    Detector(
        "us_individual_taxpayer_identification_number", "US ITIN", R, "government_id",
        r"\b9\d{2}[ \-]?\d{2}[ \-]?\d{4}\b", ids.us_itin, "IRS ITIN ranges", base=0.3,
        needs_context=True, context=("itin", "taxpayer"), keys=("itin",), mask="last4",
        example="912-70-1234",
    ),
    Detector(
        "us_employer_identification_number", "US EIN", C, "government_id",
        r"\b\d{2}-\d{7}\b", ids.us_ein, "IRS prefix list", base=0.3, needs_context=True,
        context=("ein", "employer id", "fein", "tax id"), keys=("ein", "fein", "taxid"),
        mask="last4", example="12-3456789",
    ),
    Detector(
        "uk_national_insurance_number", "UK NINO", R, "government_id",
        r"\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b", ids.uk_nino, "HMRC prefix rules", base=0.8,
        context=("nino", "national insurance", "ni number"), keys=("nino", "nationalinsurance"),
        mask="last4", example="AB 12 34 56 C",
    ),
    Detector(
        "uk_nhs_number", "UK NHS number", R, "health",
        r"\b\d{3}[ \-]?\d{3}[ \-]?\d{4}\b", ids.uk_nhs, "mod 11", base=0.3, needs_context=True,
        context=("nhs",), keys=("nhs",), mask="last4", example="943 476 5919",
    ),
    Detector(
        "canada_social_insurance_number", "Canada SIN", R, "government_id",
        r"\b\d{3}[ \-]?\d{3}[ \-]?\d{3}\b", ids.ca_sin, "Luhn", base=0.3, needs_context=True,
        context=("sin", "social insurance", "nas"), keys=("sin", "socialinsurance"),
        mask="last4", example="130 692 544",
    ),
    Detector(
        "france_nir", "France NIR (INSEE)", R, "government_id",
        r"\b[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}\b", ids.fr_nir, "mod 97 key",
        base=0.75, context=("nir", "insee", "sécurité sociale", "securite sociale", "secu"),
        keys=("nir", "insee", "secu"), mask="last4", example="2 84 12 76 451 089 93",
    ),
    Detector(
        "spain_dni_number", "Spain DNI", R, "government_id",
        r"\b\d{8}-?[A-Z]\b", ids.es_dni, "mod 23 letter", base=0.75,
        context=("dni", "nif", "documento"), keys=("dni", "nif"), mask="last4",
        example="12345678Z",
    ),
    Detector(
        "spain_nie_number", "Spain NIE", R, "government_id",
        r"\b[XYZ]-?\d{7}-?[A-Z]\b", ids.es_nie, "mod 23 letter", base=0.8,
        context=("nie", "extranjero"), keys=("nie",), mask="last4", example="X1234567L",
    ),
    Detector(
        "italy_fiscal_code", "Italy codice fiscale", R, "government_id",
        r"\b[A-Z]{6}\d{2}[A-EHLMPRST]\d{2}[A-Z]\d{3}[A-Z]\b", ids.it_codice_fiscale,
        "check character", base=0.9, context=("codice fiscale", "cf"),
        keys=("codicefiscale", "fiscalcode"), mask="last4", example="RSSMRA85T10A562S",
    ),
    Detector(
        "netherlands_bsn_number", "Netherlands BSN", R, "government_id",
        r"\b\d{4}\.?\d{2}\.?\d{3}\b|\b\d{9}\b", ids.nl_bsn, "11-proof", base=0.3,
        needs_context=True, context=("bsn", "burgerservicenummer", "sofinummer"),
        keys=("bsn",), mask="last4", example="111222333",
    ),
    Detector(
        "germany_taxpayer_identification_number", "Germany tax id", R, "government_id",
        r"\b\d{2} ?\d{3} ?\d{3} ?\d{3}\b", ids.de_tax_id, "ISO 7064 MOD 11,10", base=0.35,
        needs_context=True, context=("steuer", "idnr", "tax id", "steuerliche"),
        keys=("steuerid", "idnr", "steuernummer", "taxid"), mask="last4", example="86095742719",
    ),
    Detector(
        "india_aadhaar_individual", "India Aadhaar", R, "government_id",
        r"\b[2-9]\d{3}[ \-]?\d{4}[ \-]?\d{4}\b", ids.in_aadhaar, "Verhoeff", base=0.35,
        context=("aadhaar", "aadhar", "uidai", "uid"), keys=("aadhaar", "aadhar", "uid"),
        mask="last4", separated_bonus=0.3, bare_needs_context=True, formatted=r"\b[2-9]\d{3}(?:[ \-]\d{4}[ \-]?|\d{4}[ \-])\d{4}\b", example="2341 2341 2346",
    ),
    Detector(
        "india_pan_individual", "India PAN", R, "government_id",
        r"\b[A-Z]{3}[ABCFGHLJPT][A-Z]\d{4}[A-Z]\b", ids.in_pan, "holder-type letter", base=0.6,
        context=("pan", "income tax", "permanent account"), keys=("pan",), mask="last4",
        example="ABCPE1234F",
    ),
    Detector(
        "brazil_cpf_number", "Brazil CPF", R, "government_id",
        r"\b\d{3}\.?\d{3}\.?\d{3}-?\d{2}\b", ids.br_cpf, "mod 11 x2", base=0.45,
        context=("cpf", "cadastro"), keys=("cpf",), mask="last4", separated_bonus=0.3, bare_needs_context=True, formatted=r"\b\d{3}(?:\.\d{3}\.?\d{3}-?|\d{3}\.\d{3}-?|\d{6}-)\d{2}\b", example="529.982.247-25",
    ),
    Detector(
        "brazil_cnpj_number", "Brazil CNPJ", C, "government_id",
        r"\b\d{2}\.?\d{3}\.?\d{3}/?\d{4}-?\d{2}\b", ids.br_cnpj, "mod 11 x2", base=0.5,
        context=("cnpj",), keys=("cnpj",), mask="last4", separated_bonus=0.25, bare_needs_context=True, formatted=r"\b\d{2}(?:\.\d{3}\.?\d{3}/?|\d{3}\.\d{3}/?|\d{6}/)\d{4}-?\d{2}\b|\b\d{12}-\d{2}\b", example="11.222.333/0001-81",
    ),
    Detector(
        "australia_tax_file_number", "Australia TFN", R, "government_id",
        r"\b\d{3} ?\d{3} ?\d{3}\b", ids.au_tfn, "weighted mod 11", base=0.3, needs_context=True,
        context=("tfn", "tax file"), keys=("tfn", "taxfile"), mask="last4", example="123 456 782",
    ),
    Detector(
        "australian_business_number", "Australia ABN", C, "government_id",
        r"\b\d{2} ?\d{3} ?\d{3} ?\d{3}\b", ids.au_abn, "weighted mod 89", base=0.35,
        needs_context=True, context=("abn", "business number"), keys=("abn",), mask="last4",
        example="51 824 753 556",
    ),
    Detector(
        "australia_medicare_number", "Australia Medicare", R, "health",
        r"\b[2-6]\d{3} ?\d{5} ?\d{1,2}\b", ids.au_medicare, "weighted check digit", base=0.3,
        needs_context=True, context=("medicare",), keys=("medicare",), mask="last4",
        example="2123 45670 1",
    ),
    Detector(
        "singapore_national_registration_id_number", "Singapore NRIC/FIN", R, "government_id",
        r"\b[STFG]\d{7}[A-Z]\b", ids.sg_nric, "mod 11 letter", base=0.85,
        context=("nric", "fin"), keys=("nric",), mask="last4", example="S1234567D",
    ),
    Detector(
        "poland_pesel_number", "Poland PESEL", R, "government_id",
        r"\b\d{11}\b", ids.pl_pesel, "date + weighted check", base=0.3, needs_context=True,
        context=("pesel",), keys=("pesel",), mask="last4", example="44051401458",
    ),
    Detector(
        "sweden_national_id_number", "Sweden personnummer", R, "government_id",
        r"\b(?:19|20)?\d{6}[\-+]\d{4}\b", ids.se_personnummer, "date + Luhn", base=0.6,
        context=("personnummer", "personal identity"), keys=("personnummer",), mask="last4",
        example="811228-9874",
    ),
    Detector(
        "finland_national_id_number", "Finland HETU", R, "government_id",
        r"\b\d{6}[\-+A-FU-Y]\d{3}[0-9A-Y]\b", ids.fi_hetu, "mod 31", base=0.8,
        context=("hetu", "henkilötunnus", "henkilotunnus"), keys=("hetu",), mask="last4",
        example="131052-308T",
    ),
    Detector(
        "belgium_national_id_card_number", "Belgium national number", R, "government_id",
        r"\b\d{2}\.?\d{2}\.?\d{2}-?\d{3}\.?\d{2}\b", ids.be_national_number, "mod 97", base=0.3,
        needs_context=True, context=("rijksregister", "registre national", "national number"),
        keys=("rijksregister", "nationalnumber", "niss"), mask="last4", example="85.07.30-033.28",
    ),
    Detector(
        "china_resident_id_number", "China resident ID", R, "government_id",
        r"\b\d{17}[0-9X]\b", ids.cn_resident_id, "date + MOD 11-2", base=0.85,
        context=("resident", "身份证", "id card"), keys=("residentid", "idcard"), mask="last4",
        example="11010519491231002X",
    ),
    Detector(
        "south_africa_id_number", "South Africa ID", R, "government_id",
        r"\b\d{13}\b", ids.za_id, "date + Luhn", base=0.4, needs_context=True,
        context=("id number", "identity number", "rsa id", "south africa"),
        keys=("idnumber", "rsaid", "saidnumber"), mask="last4", example="8001015009087",
    ),
    Detector(
        "norway_national_id_number", "Norway fødselsnummer", R, "government_id",
        r"\b\d{6} ?\d{5}\b", ids.no_fnr, "mod 11 x2", base=0.35, needs_context=True,
        context=("fødselsnummer", "fodselsnummer", "personnummer", "fnr"),
        keys=("fnr", "fodselsnummer"), mask="last4", example="010190 00083",
    ),
    Detector(
        "us_healthcare_npi", "US NPI", C, "health",
        r"\b[12]\d{9}\b", ids.us_npi, "Luhn with 80840", base=0.3, needs_context=True,
        context=("npi", "provider"), keys=("npi",), mask="last4", example="1234567893",
    ),
    Detector(
        "us_dea_number", "US DEA registration", C, "health",
        r"\b[A-Z]{2}\d{7}\b", ids.us_dea, "DEA checksum", base=0.35, needs_context=True,
        context=("dea",), keys=("dea",), mask="last4", example="AB1234563",
    ),
    Detector(
        "passport", "Passport number", R, "government_id",
        r"\b[A-Z0-9]{6,9}\b", v.has_digit, "context + has digit", base=0.2, needs_context=True,
        context=("passport", "reisepass", "passeport", "pasaporte"),
        keys=("passport",), mask="last4", example="C03005988",
    ),
    Detector(
        "drivers_license_number", "Driver's licence number", R, "government_id",
        r"\b[A-Z0-9][A-Z0-9\-]{4,15}[A-Z0-9]\b", v.has_digit, "context + has digit", base=0.2,
        needs_context=True,
        context=("driver", "driving licen", "license number", "licence number", "dl number"),
        keys=("driverslicense", "driverlicense", "drivinglicence", "dlnumber", "licensenumber"),
        mask="last4", example="D1234567",
    ),
    Detector(
        "date_of_birth", "Date of birth", C, "pii",
        r"\b(?:\d{4}-\d{2}-\d{2}|\d{1,2}[/.\-]\d{1,2}[/.\-]\d{4}|\d{1,2} [A-Za-z]{3,9} \d{4})\b",
        v.birth_date, "calendar date + context", base=0.2, needs_context=True,
        context=("dob", "birth", "born", "geburtsdatum", "naissance", "nacimiento"),
        keys=("dob", "birth", "born", "geburtsdatum"), mask="full", example="1985-03-12",
    ),
    Detector(
        "ip_address", "IPv4 address", I, "network",
        r"\b(?:\d{1,3}\.){3}\d{1,3}\b", v.ipv4, "ipaddress", base=0.6,
        context=("ip", "address", "client", "remote", "host"), keys=("ip", "addr", "host"),
        mask="full", example="203.0.113.42",
    ),
    Detector(
        "ipv6_address", "IPv6 address", I, "network",
        r"\b(?:(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:){1,6}:[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{1,4}){0,5})",
        v.ipv6, "ipaddress", base=0.6, context=("ip", "ipv6", "address"),
        keys=("ip", "addr"), mask="full", example="2001:db8:85a3::8a2e:370:7334",
    ),
    Detector(
        "mac_address", "MAC address", I, "network",
        r"\b[0-9A-Fa-f]{2}(?:[:\-][0-9A-Fa-f]{2}){5}\b", v.mac, "structure", base=0.6,
        context=("mac", "hardware", "device", "ethernet"), keys=("mac", "hwaddr"),
        mask="full", example="00:1A:2B:3C:4D:5E",
    ),
    Detector(
        "crypto_wallet_address", "Bitcoin address", C, "financial",
        r"\b(?:[13][1-9A-HJ-NP-Za-km-z]{25,34}|bc1[02-9ac-hj-np-z]{11,71})\b",
        v.crypto_wallet, "base58check / bech32(m)", base=0.85,
        context=("bitcoin", "btc", "wallet"), keys=("wallet", "btc", "bitcoin"),
        mask="last4", example="1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
    ),
    Detector(
        "ethereum_address", "Ethereum address", C, "financial",
        r"\b0x[0-9a-fA-F]{40}\b", v.eth_address, "EIP-55 checksum (mixed case)", base=0.6,
        context=("ethereum", "eth", "wallet"), keys=("wallet", "eth"),
        mask="last4", example="0x52908400098527886E0F7030069857D2E4169EE7",
    ),
    Detector(
        "vehicle_identification_number", "VIN", C, "pii",
        r"\b[A-HJ-NPR-Z0-9]{17}\b", ids.vin, "position-9 check digit", base=0.6,
        context=("vin", "vehicle", "chassis"), keys=("vin", "vehicle"), mask="last4",
        example="1M8GDM9AXKP042788",
    ),
    Detector(
        "medical_record_number", "Medical record number", R, "health",
        r"\b(?:MRN[\-: ]?)?(?P<v>\d{6,10})\b", v.has_digit, "context", base=0.2, needs_context=True,
        context=("mrn", "medical record", "patient id", "patient number", "chart number"),
        keys=("mrn", "medicalrecord", "patientid"), mask="last4", example="MRN-00482913",
    ),
    Detector(
        "icd10_code", "ICD-10 diagnosis code", R, "health",
        r"\b[A-TV-Z]\d[0-9AB](?:\.[0-9A-KXZ]{1,4})?\b", v.icd10, "structure + context",
        base=0.2, needs_context=True, context=("icd", "diagnosis", "dx"),
        keys=("icd", "diagnosis", "dxcode"), mask="full", example="E11.9",
    ),
)  # fmt: skip

__all__ = ["PII_DETECTORS"]
