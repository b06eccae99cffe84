"""Table-driven tests per personal/financial detector: positives AND hard negatives."""

from __future__ import annotations

import pytest

from ringfence.classify import Classifier
from tests.classify.conftest import types_in

# (type id, text, expected to be detected)
CASES: list[tuple[str, str, bool]] = [
    ("email_address", "contact jane.doe@example.org today", True),
    ("email_address", "user@localhost is not routable", False),
    ("email_address", "see docs at example.org/@handle", False),
    ("phone_number", "call +44 20 7946 0958 now", True),
    ("phone_number", "call +1 555 0100", False),  # too short, not a valid NANP number
    ("phone_number", "version +1.2.3", False),
    ("phone_number_national", "phone: (415) 867-5309", True),
    ("phone_number_national", "ticket (415) 867-5309", False),  # no phone context
    ("credit_card_number", "card 4556 7375 8689 9855 exp 12/27", True),
    ("credit_card_number", "card 4556737586899855", True),
    ("credit_card_number", "card 4556 7375 8689 9856", False),  # Luhn fails
    ("credit_card_number", "card 4111 1111 1111 1111", False),  # allow-listed test card
    ("credit_card_number", "id 1234567812345670", False),  # valid Luhn, no issuer prefix
    ("credit_card_number", "ts 1712345678901", False),  # millisecond timestamp
    ("iban_code", "pay to DE89 3704 0044 0532 0130 00 please", True),
    ("iban_code", "pay to GB29NWBK60161331926819", True),
    ("iban_code", "pay to DE88 3704 0044 0532 0130 00", False),  # wrong check digits
    ("iban_code", "pay to DE89 3704 0044 0532 0130", False),  # wrong length for DE
    ("swift_code", "SWIFT: DEUTDEFF500", True),
    ("swift_code", "MESSAGES ARE FINE", False),
    ("american_bankers_cusip_id", "routing number 011000015", True),
    ("american_bankers_cusip_id", "routing number 011000016", False),
    ("us_bank_account_number", "account number 000123456789", True),
    ("us_bank_account_number", "order 000123456789", False),
    ("us_social_security_number", "SSN 536-90-4399", True),
    ("us_social_security_number", "my ssn is 536904399", True),
    ("us_social_security_number", "SSN 000-12-3456", False),
    ("us_social_security_number", "SSN 666-12-3456", False),
    ("us_social_security_number", "SSN 078-05-1120", False),  # the Woolworth wallet card
    ("us_social_security_number", "order 536904399", False),
    ("us_individual_taxpayer_identification_number", "ITIN 912-70-1234", True),
    ("us_individual_taxpayer_identification_number", "ITIN 912-40-1234", False),
    ("us_employer_identification_number", "EIN 12-3456789", True),
    ("us_employer_identification_number", "EIN 07-3456789", False),
    ("uk_national_insurance_number", "NI number AB 12 34 56 C", True),
    ("uk_national_insurance_number", "NI number QQ 12 34 56 C", False),
    ("uk_national_insurance_number", "code GB 12 34 56 A", False),
    ("uk_nhs_number", "NHS number 943 476 5919", True),
    ("uk_nhs_number", "NHS number 943 476 5918", False),
    ("canada_social_insurance_number", "SIN 130 692 544", True),
    ("canada_social_insurance_number", "SIN 130 692 545", False),
    ("canada_social_insurance_number", "using 130 692 544", False),  # 'sin' inside a word
    ("france_nir", "NIR 2 84 12 76 451 089 93", True),
    ("france_nir", "NIR 2 84 12 76 451 089 94", False),
    ("spain_dni_number", "DNI 12345678Z", True),
    ("spain_dni_number", "DNI 12345678A", False),
    ("spain_nie_number", "NIE X1234567L", True),
    ("spain_nie_number", "NIE X1234567A", False),
    ("italy_fiscal_code", "CF RSSMRA85T10A562S", True),
    ("italy_fiscal_code", "CF RSSMRA85T10A562T", False),
    ("netherlands_bsn_number", "BSN 111222333", True),
    ("netherlands_bsn_number", "BSN 111222334", False),
    ("germany_taxpayer_identification_number", "Steuer-IdNr 86095742719", True),
    ("germany_taxpayer_identification_number", "Steuer-IdNr 86095742718", False),
    ("india_aadhaar_individual", "Aadhaar 2341 2341 2346", True),
    ("india_aadhaar_individual", "Aadhaar 2341 2341 2347", False),
    ("india_aadhaar_individual", "tracking 234123412346", False),
    ("india_pan_individual", "PAN ABCPE1234F", True),
    ("india_pan_individual", "PAN ABCDE1234F", False),  # D is not a holder type
    ("brazil_cpf_number", "CPF 529.982.247-25", True),
    ("brazil_cpf_number", "CPF 529.982.247-26", False),
    ("brazil_cpf_number", "CPF 111.111.111-11", False),
    ("brazil_cnpj_number", "CNPJ 11.222.333/0001-81", True),
    ("brazil_cnpj_number", "CNPJ 11.222.333/0001-82", False),
    ("australia_tax_file_number", "TFN 123 456 782", True),
    ("australia_tax_file_number", "TFN 123 456 783", False),
    ("australian_business_number", "ABN 51 824 753 556", True),
    ("australian_business_number", "ABN 51 824 753 557", False),
    ("australia_medicare_number", "Medicare 2123 45670 1", True),
    ("australia_medicare_number", "Medicare 2123 45671 1", False),
    ("singapore_national_registration_id_number", "NRIC S1234567D", True),
    ("singapore_national_registration_id_number", "NRIC S1234567A", False),
    ("poland_pesel_number", "PESEL 44051401458", True),
    ("poland_pesel_number", "PESEL 44051401459", False),
    ("sweden_national_id_number", "personnummer 811228-9874", True),
    ("sweden_national_id_number", "personnummer 811228-9875", False),
    ("finland_national_id_number", "HETU 131052-308T", True),
    ("finland_national_id_number", "HETU 131052-308U", False),
    ("belgium_national_id_card_number", "rijksregister 85.07.30-033.28", True),
    ("belgium_national_id_card_number", "rijksregister 85.07.30-033.29", False),
    ("china_resident_id_number", "resident id 11010519491231002X", True),
    ("china_resident_id_number", "resident id 110105194912310021", False),
    ("south_africa_id_number", "ID number 8001015009087", True),
    ("south_africa_id_number", "ID number 8001015009088", False),
    ("norway_national_id_number", "fødselsnummer 010190 00083", True),
    ("norway_national_id_number", "fødselsnummer 010190 00084", False),
    ("us_healthcare_npi", "NPI 1234567893", True),
    ("us_healthcare_npi", "NPI 1234567890", False),
    ("us_dea_number", "DEA AB1234563", True),
    ("us_dea_number", "DEA AB1234564", False),
    ("passport", "passport number C03005988", True),
    ("passport", "C03005988", False),
    ("passport", "passport number PENDING", False),
    ("drivers_license_number", "driver's license D1234567", True),
    ("drivers_license_number", "part D1234567", False),
    ("date_of_birth", "DOB: 1985-03-12", True),
    ("date_of_birth", "born 12/03/1985", True),
    ("date_of_birth", "created 2025-03-12", False),
    ("date_of_birth", "DOB: 1985-02-30", False),
    ("ip_address", "client 203.0.113.42 connected", True),
    ("ip_address", "client 203.0.113.420 connected", False),
    ("ip_address", "version 1.2.3.4", False),
    ("ipv6_address", "from 2001:db8:85a3::8a2e:370:7334", True),
    ("ipv6_address", "at 10:30:00", False),
    ("mac_address", "device 00:1A:2B:3C:4D:5E", True),
    ("mac_address", "device 00:1A:2B:3C:4D", False),
    ("crypto_wallet_address", "send to 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", True),
    ("crypto_wallet_address", "send to bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", True),
    ("crypto_wallet_address", "send to 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", False),
    ("ethereum_address", "wallet 0x52908400098527886E0F7030069857D2E4169EE7", True),
    ("ethereum_address", "wallet 0x0000000000000000000000000000000000000000", False),
    ("ethereum_address", "wallet 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", True),
    ("ethereum_address", "wallet 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", False),  # EIP-55
    ("vehicle_identification_number", "VIN 1M8GDM9AXKP042788", True),
    ("vehicle_identification_number", "VIN 1M8GDM9A1KP042788", False),
    ("medical_record_number", "MRN-00482913 admitted", True),
    ("medical_record_number", "patient id 00482913", True),
    ("medical_record_number", "order 00482913", False),
    ("icd10_code", "diagnosis E11.9 confirmed", True),
    ("icd10_code", "room E11 is free", False),
]


@pytest.mark.parametrize(
    ("type_id", "text", "expected"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_detector_table(classifier: Classifier, type_id: str, text: str, expected: bool) -> None:
    assert (type_id in types_in(classifier, text)) is expected


def test_every_pii_detector_has_a_positive_and_a_negative_case(classifier: Classifier) -> None:
    pii = {d.id for d in classifier.detectors if d.category != "secret"}
    pos = {t for t, _, e in CASES if e}
    neg = {t for t, _, e in CASES if not e}
    assert pii <= pos
    assert pii <= neg
