"""Tests for core.identity.

Expected check characters are computed by the helpers in this file (written
from the published formulas, independently of the module under test) or are
hand-checked literals. No Django settings or database are needed: lazy
translation strings are never forced to ``str``.
"""

import datetime

import pytest
from stdnum.cn import uscc as stdnum_uscc

from core.identity import (
    CredentialType,
    IdentityError,
    PersonalIdType,
    credential_requires_number,
    mask_identifier,
    normalize_credential_number,
    normalize_personal_id,
    validate_credential_number,
    validate_personal_id,
)

# ---------------------------------------------------------------------------
# Independent reference implementations
# ---------------------------------------------------------------------------


def iso7064_check(first17: str) -> str:
    """ISO 7064 MOD 11-2: weights 2^(17-i) mod 11, check = (12 - sum % 11) % 11."""
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(first17))
    c = (12 - total % 11) % 11
    return "X" if c == 10 else str(c)


def id18(first17: str) -> str:
    assert len(first17) == 17
    return first17 + iso7064_check(first17)


def wrong_check(number: str, alphabet: str = "0123456789X") -> str:
    """Same number with a different (wrong) last character."""
    last = number[-1]
    replacement = next(c for c in alphabet if c != last)
    return number[:-1] + replacement


_ALPHABET31 = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_W = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def uscc_check(first17: str) -> str:
    total = 0
    for ch, w in zip(first17, _USCC_W, strict=True):
        total += _ALPHABET31.index(ch) * w
    return _ALPHABET31[(31 - total % 31) % 31]


def org_check(body8: str) -> str:
    values = {c: i for i, c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")}
    total = sum(values[c] * w for c, w in zip(body8, [3, 7, 9, 10, 5, 8, 4, 2], strict=True))
    c = 11 - total % 11
    return {10: "X", 11: "0"}.get(c, str(c))


def uscc(prefix2: str, area: str, body8: str) -> str:
    """A USCC whose embedded organisation code and final check are both valid."""
    first17 = prefix2 + area + body8 + org_check(body8)
    return first17 + uscc_check(first17)


NEXT_YEAR = datetime.date.today().year + 1


def code_of(func, *args) -> str:
    with pytest.raises(IdentityError) as excinfo:
        func(*args)
    return excinfo.value.code


# ---------------------------------------------------------------------------
# Sanity checks of the reference helpers against hand-checked literals
# ---------------------------------------------------------------------------


def test_reference_helpers_match_hand_checked_literals():
    # Standard GB 11643 weights.
    assert [2 ** (17 - i) % 11 for i in range(17)] == [
        7,
        9,
        10,
        5,
        8,
        4,
        2,
        1,
        6,
        3,
        7,
        9,
        10,
        5,
        8,
        4,
        2,
    ]
    # Example from the python-stdnum cn.ric doctest.
    assert id18("36042619910101007") == "360426199101010071"
    # Example from the python-stdnum cn.uscc doctest.
    assert uscc("91", "110000", "60003734") == "91110000600037341L"
    # Organisation codes checked by hand: sums 0, 12, 2 and 30.
    assert org_check("00000000") == "0"
    assert org_check("00000006") == "X"
    assert org_check("00000001") == "9"
    assert org_check("A0000000") == "3"


@pytest.mark.parametrize(
    "first17",
    ["91110000600037341", "12100000400000624", "51440300MJL00000X", "92440300MA5F12345"],
)
def test_reference_uscc_helper_agrees_with_stdnum_for_digit_leading_codes(first17):
    assert uscc_check(first17) == stdnum_uscc.calc_check_digit(first17 + "0")


# ---------------------------------------------------------------------------
# Resident ID
# ---------------------------------------------------------------------------

VALID_BEIJING = id18("11010519900307123")
VALID_SHENZHEN = id18("44030519851231456")
VALID_SHANGHAI = id18("31010120000229002")  # leap day
# Search a sequence number whose check digit is X.
ENDS_IN_X = next(
    n for n in (id18(f"110105198805{d:02d}{s:03d}") for d in range(1, 29) for s in range(1000)) if n.endswith("X")
)


@pytest.mark.parametrize(
    "raw, expected",
    [
        (VALID_BEIJING, VALID_BEIJING),
        (VALID_SHENZHEN, VALID_SHENZHEN),
        (VALID_SHANGHAI, VALID_SHANGHAI),
        (ENDS_IN_X, ENDS_IN_X),
        (ENDS_IN_X[:-1] + "x", ENDS_IN_X),
        ("360426199101010071", "360426199101010071"),
    ],
)
def test_resident_id_valid_numbers_are_accepted(raw, expected):
    assert ENDS_IN_X.endswith("X")
    assert validate_personal_id(PersonalIdType.RESIDENT_ID, raw) == expected


@pytest.mark.parametrize(
    "raw, code",
    [
        (wrong_check(VALID_BEIJING), "invalid_checksum"),
        (wrong_check(ENDS_IN_X), "invalid_checksum"),
        (id18("11010519900230123"), "invalid_birth_date"),  # 30 February
        (id18("11010519901301123"), "invalid_birth_date"),  # month 13
        (id18("11010519900100123"), "invalid_birth_date"),  # day 0
        (id18("11010519000229123"), "invalid_birth_date"),  # 1900 is no leap year
        (id18(f"110105{NEXT_YEAR}0101123"), "invalid_birth_date"),  # future
        (id18("11010518991231123"), "invalid_birth_date"),  # before 1900
        (VALID_BEIJING[:-1], "invalid_format"),  # 17 characters
        (VALID_BEIJING + "1", "invalid_format"),  # 19 characters
        ("11010519900307123", "invalid_format"),
        ("1101051990030712", "invalid_format"),
        (VALID_BEIJING[:-1] + "A", "invalid_format"),
        ("X" + VALID_BEIJING[1:], "invalid_format"),
        ("11010519900307-123", "invalid_format"),
        (id18("00000019900307123"), "invalid_area"),
        (id18("11999919900307123"), "invalid_area"),  # known province, no county
        (id18("11010320120101123"), "invalid_area"),  # 崇文区 abolished in 2010
    ],
)
def test_resident_id_validation_table(raw, code):
    assert code_of(validate_personal_id, PersonalIdType.RESIDENT_ID, raw) == code


def test_resident_id_area_valid_when_born_before_district_was_created():
    # 440305 (南山区) exists since 1990; a person born in 1980 can register later.
    number = id18("44030519800101123")
    assert validate_personal_id("resident_id", number) == number
    # 110103 (崇文区) existed until 2010: fine for someone born in 1990.
    number = id18("11010319900101123")
    assert validate_personal_id("resident_id", number) == number


def test_resident_id_empty_is_required():
    assert code_of(validate_personal_id, "resident_id", "  ") == "required"


# ---------------------------------------------------------------------------
# Hong Kong, Macao, Taiwan residence permits (810000 / 820000 / 830000)
# ---------------------------------------------------------------------------

TAIWAN_PERMIT = id18("83000019880808123")
HK_PERMIT = id18("81000019850615234")  # born before 1997: stdnum rejects it
MACAO_PERMIT = id18("82000020010101345")


@pytest.mark.parametrize("number", [TAIWAN_PERMIT, HK_PERMIT, MACAO_PERMIT])
@pytest.mark.parametrize("id_type", ["resident_id", "hmt_residence_permit"])
def test_hmt_residence_permit_areas_accepted_as_resident_id_and_permit(id_type, number):
    assert validate_personal_id(id_type, number) == number


@pytest.mark.parametrize("number", [TAIWAN_PERMIT, HK_PERMIT, MACAO_PERMIT])
@pytest.mark.parametrize("id_type", ["resident_id", "hmt_residence_permit"])
def test_hmt_residence_permit_wrong_check_digit_is_invalid_checksum(id_type, number):
    assert code_of(validate_personal_id, id_type, wrong_check(number)) == "invalid_checksum"


@pytest.mark.parametrize(
    "raw, code",
    [
        (VALID_BEIJING, "invalid_area"),  # a resident ID is not a permit
        (id18("84000019880808123"), "invalid_area"),
        (id18("83000019880230123"), "invalid_birth_date"),
        (id18(f"830000{NEXT_YEAR}0101123"), "invalid_birth_date"),
        (TAIWAN_PERMIT[:-1], "invalid_format"),
        ("83000019880808123A", "invalid_format"),
    ],
)
def test_hmt_residence_permit_validation_table(raw, code):
    assert code_of(validate_personal_id, "hmt_residence_permit", raw) == code


# ---------------------------------------------------------------------------
# Travel permits
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("H12345678", "H12345678"),
        ("M1234567890", "M1234567890"),
        ("h12345678", "H12345678"),
        ("12345678", "12345678"),
        ("1234567890", "1234567890"),
    ],
)
def test_hmt_travel_permit_valid_formats(raw, expected):
    assert validate_personal_id("hmt_travel_permit", raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["H1234567", "H123456789", "H123456789012", "X12345678", "1234567", "123456789", "HM12345678"],
)
def test_hmt_travel_permit_invalid_formats(raw):
    assert code_of(validate_personal_id, "hmt_travel_permit", raw) == "invalid_format"


# ---------------------------------------------------------------------------
# Foreigner's permanent residence ID
# ---------------------------------------------------------------------------

NEW_PR = id18("93315619800101123")


@pytest.mark.parametrize(
    "raw, expected",
    [
        (NEW_PR, NEW_PR),
        ("USA123456789012", "USA123456789012"),
        ("usa 1234 5678 9012", "USA123456789012"),
    ],
)
def test_foreign_permanent_residence_valid(raw, expected):
    assert validate_personal_id("foreign_permanent_residence", raw) == expected


@pytest.mark.parametrize(
    "raw, code",
    [
        (wrong_check(NEW_PR), "invalid_checksum"),
        (id18("93315619800231123"), "invalid_birth_date"),
        (VALID_BEIJING, "invalid_format"),  # 18 digits not starting with 9
        ("US1234567890123", "invalid_format"),
        ("USA12345678901A", "invalid_format"),
        ("USA1234567890", "invalid_format"),
        ("9331561980010112", "invalid_format"),
    ],
)
def test_foreign_permanent_residence_validation_table(raw, code):
    assert code_of(validate_personal_id, "foreign_permanent_residence", raw) == code


# ---------------------------------------------------------------------------
# Passport and military ID
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [("E12345678", "E12345678"), ("g1234567", "G1234567"), ("12345", "12345"), ("A" * 16 + "1", "A" * 16 + "1")],
)
def test_passport_valid_formats(raw, expected):
    assert validate_personal_id("passport", raw) == expected


@pytest.mark.parametrize("raw", ["ABCDEF", "1234", "A" * 17 + "1", "E1234-5678", "E1234567号"])
def test_passport_invalid_formats(raw):
    assert code_of(validate_personal_id, "passport", raw) == "invalid_format"


@pytest.mark.parametrize(
    "raw",
    ["军字第123456号", "武字第12345678号", "军123456", "武123456789012", "123456", "123456号", "A1234567"],
)
def test_military_id_valid_formats(raw):
    assert validate_personal_id("military_id", raw) == raw


@pytest.mark.parametrize(
    "raw",
    ["abc", "ABCDEFG", "12345", "军字第12345号", "军字第1234567890123号", "军-123456", "123456号号", "军字第ABC号"],
)
def test_military_id_garbage_is_invalid_format(raw):
    assert code_of(validate_personal_id, "military_id", raw) == "invalid_format"


# ---------------------------------------------------------------------------
# Normalisation and types
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("１１０１０５　１９９０ ０３０７\t１２３ｘ", "11010519900307123X"),
        (" 110105 1990 0307 123x \n", "11010519900307123X"),
        ("ｅ１２３４５６７８", "E12345678"),
        ("Ｈ１２３４５６７８", "H12345678"),
        ("军字第 123456 号", "军字第123456号"),
    ],
)
def test_normalize_personal_id_full_width_and_whitespace(raw, expected):
    assert normalize_personal_id("passport", raw) == expected


def test_validate_personal_id_returns_normalized_full_width_input():
    full_width = VALID_BEIJING.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    assert full_width != VALID_BEIJING
    spaced = full_width[:6] + "　" + full_width[6:14] + " " + full_width[14:]
    assert validate_personal_id("resident_id", spaced) == VALID_BEIJING


def test_unknown_personal_id_type_is_invalid_type():
    assert code_of(validate_personal_id, "driving_licence", "123456") == "invalid_type"
    assert code_of(normalize_personal_id, "driving_licence", "123456") == "invalid_type"


def test_choices_values():
    assert PersonalIdType.values == [
        "resident_id",
        "hmt_residence_permit",
        "hmt_travel_permit",
        "foreign_permanent_residence",
        "passport",
        "military_id",
    ]
    assert CredentialType.values == [
        "business_licence",
        "public_institution",
        "social_organisation",
        "organisation_code",
        "official_letter",
    ]


def test_identity_error_is_value_error_with_code_and_message():
    with pytest.raises(ValueError) as excinfo:
        validate_personal_id("resident_id", wrong_check(VALID_BEIJING))
    err = excinfo.value
    assert isinstance(err, IdentityError)
    assert err.code == "invalid_checksum"
    assert err.message is not None


# ---------------------------------------------------------------------------
# USCC (business licence)
# ---------------------------------------------------------------------------

USCC_A = uscc("A1", "110000", "MA01B2C3")
USCC_N = uscc("N2", "330100", "MA2D3E4F")
USCC_Y = uscc("Y1", "440300", "12345678")
USCC_9 = uscc("91", "440300", "MA5FGH12")
USCC_1 = uscc("12", "110000", "40000062")
USCC_5 = uscc("51", "310000", "50000123")


@pytest.mark.parametrize(
    "number",
    [USCC_A, USCC_N, USCC_Y],
)
def test_uscc_letter_prefixed_codes_A_N_Y_are_accepted(number):
    assert validate_credential_number("business_licence", number) == number


@pytest.mark.parametrize("number", [USCC_A, USCC_N, USCC_Y, USCC_9])
def test_uscc_wrong_check_char_is_invalid_checksum(number):
    bad = wrong_check(number, _ALPHABET31)
    assert code_of(validate_credential_number, "business_licence", bad) == "invalid_checksum"


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("91110000600037341L", "91110000600037341L"),  # python-stdnum doctest
        (USCC_9, USCC_9),
        (USCC_1, USCC_1),
        (USCC_5, USCC_5),
        (USCC_9.lower(), USCC_9),
        (" " + USCC_9[:8] + " " + USCC_9[8:] + " ", USCC_9),
    ],
)
def test_uscc_digit_leading_codes_are_accepted(raw, expected):
    assert validate_credential_number("business_licence", raw) == expected


def _with_char(first17_pos: int, ch: str, base: str = "91110000600037341") -> str:
    """Replace one character and recompute a correct final check char."""
    first17 = base[:first17_pos] + ch + base[first17_pos + 1 :]
    return first17 + uscc_check(first17)


@pytest.mark.parametrize(
    "raw, code",
    [
        ("91110000600037341", "invalid_format"),  # 17 characters
        ("91110000600037341L1", "invalid_format"),  # 19 characters
        ("91110000600037341I", "invalid_format"),
        ("9111000060003734IL", "invalid_format"),
        ("9111000060003734OL", "invalid_format"),
        ("9111000060003734SL", "invalid_format"),
        ("9111000060003734VL", "invalid_format"),
        ("9111000060003734ZL", "invalid_format"),
        ("91110000600037341-", "invalid_format"),
        (_with_char(0, "0"), "invalid_format"),  # no registration authority 0
        (_with_char(0, "B"), "invalid_format"),  # no registration authority B
        (_with_char(4, "A"), "invalid_format"),  # area code must be digits
        (_with_char(16, "2"), "invalid_checksum"),  # embedded org code check wrong
    ],
)
def test_uscc_validation_table(raw, code):
    assert code_of(validate_credential_number, "business_licence", raw) == code


# ---------------------------------------------------------------------------
# Public institutions and social organisations
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        (USCC_1, USCC_1),
        ("110105000123", "110105000123"),
        ("事证第110105000123号", "事证第110105000123号"),
        ("事证第 110105000123", "事证第110105000123"),
    ],
)
def test_public_institution_uscc_or_legacy_number(raw, expected):
    assert validate_credential_number("public_institution", raw) == expected


@pytest.mark.parametrize(
    "raw, code",
    [
        (USCC_9, "invalid_format"),  # not registered by the establishment office
        (wrong_check(USCC_1, _ALPHABET31), "invalid_checksum"),
        ("11010500012", "invalid_format"),
        ("1101050001234", "invalid_format"),
        ("民证第110105000123号", "invalid_format"),
    ],
)
def test_public_institution_validation_table(raw, code):
    assert code_of(validate_credential_number, "public_institution", raw) == code


@pytest.mark.parametrize(
    "raw, expected",
    [(USCC_5, USCC_5), ("ABC1234", "ABC1234"), ("xy123456", "XY123456"), ("1" * 20, "1" * 20)],
)
def test_social_organisation_uscc_or_legacy_number(raw, expected):
    assert validate_credential_number("social_organisation", raw) == expected


@pytest.mark.parametrize(
    "raw, code",
    [
        (wrong_check(USCC_5, _ALPHABET31), "invalid_checksum"),
        (USCC_9, "invalid_format"),
        ("ABC12", "invalid_format"),
        ("1" * 21, "invalid_format"),
        ("社证字第1234号", "invalid_format"),
    ],
)
def test_social_organisation_validation_table(raw, code):
    assert code_of(validate_credential_number, "social_organisation", raw) == code


# ---------------------------------------------------------------------------
# Organisation code (legacy)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("60003734-1", "600037341"),
        ("600037341", "600037341"),
        ("00000006-X", "00000006X"),
        ("00000006-x", "00000006X"),
        ("00000000-0", "000000000"),
        ("A0000000-3", "A00000003"),
        ("６０００３７３４－１", "600037341"),
        ("MA5FGH12-" + org_check("MA5FGH12"), "MA5FGH12" + org_check("MA5FGH12")),
    ],
)
def test_organisation_code_with_and_without_hyphen(raw, expected):
    assert validate_credential_number("organisation_code", raw) == expected


@pytest.mark.parametrize(
    "raw, code",
    [
        ("60003734-2", "invalid_checksum"),
        ("00000006-0", "invalid_checksum"),
        ("A0000000-X", "invalid_checksum"),
        ("60003734", "invalid_format"),
        ("60003734-12", "invalid_format"),
        ("6000373*-1", "invalid_format"),
        ("60003734-A", "invalid_format"),
    ],
)
def test_organisation_code_validation_table(raw, code):
    assert code_of(validate_credential_number, "organisation_code", raw) == code


def test_normalize_credential_number_removes_hyphens_only_for_organisation_code():
    assert normalize_credential_number("organisation_code", " 6000 3734－1 ") == "600037341"
    assert normalize_credential_number("social_organisation", "ab-12 34") == "AB-1234"
    assert normalize_credential_number("business_licence", "９１ｌ") == "91L"


# ---------------------------------------------------------------------------
# Official letter, required numbers, unknown types
# ---------------------------------------------------------------------------


def test_official_letter_without_number_is_accepted():
    assert validate_credential_number("official_letter", "") == ""
    assert validate_credential_number("official_letter", "  　") == ""
    assert validate_credential_number("official_letter", None) == ""


def test_official_letter_with_number_is_number_not_allowed():
    assert code_of(validate_credential_number, "official_letter", "ABC123") == "number_not_allowed"


@pytest.mark.parametrize(
    "cred_type, expected",
    [
        ("business_licence", True),
        ("public_institution", True),
        ("social_organisation", True),
        ("organisation_code", True),
        ("official_letter", False),
        (CredentialType.OFFICIAL_LETTER, False),
    ],
)
def test_credential_requires_number(cred_type, expected):
    assert credential_requires_number(cred_type) is expected


@pytest.mark.parametrize(
    "cred_type", ["business_licence", "public_institution", "social_organisation", "organisation_code"]
)
def test_empty_credential_number_is_required(cred_type):
    assert code_of(validate_credential_number, cred_type, " ") == "required"


def test_unknown_credential_type_is_invalid_type():
    assert code_of(validate_credential_number, "tax_certificate", "123") == "invalid_type"
    assert code_of(credential_requires_number, "tax_certificate") == "invalid_type"


# ---------------------------------------------------------------------------
# Masking
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("110105194912310021", "110105********0021"),
        ("USA123456789012", "USA123*****9012"),
        ("91110000600037341L", "911100********341L"),
        ("E12345678", "E1*****78"),
        ("12345", "12*45"),
        ("1234", "****"),
        ("1", "*"),
        ("", ""),
    ],
)
def test_mask_identifier(value, expected):
    assert mask_identifier(value) == expected
