"""Validation of personal identity documents and organisation credentials.

Pure functions, no database access. Every validation failure raises
:class:`IdentityError`, which carries a short machine-readable ``code`` and a
user-facing, translatable ``message``.

Personal documents (:class:`PersonalIdType`) are checked with
:func:`validate_personal_id`; organisation credentials
(:class:`CredentialType`) with :func:`validate_credential_number`. Both
normalise the input first (see :func:`normalize_personal_id` and
:func:`normalize_credential_number`) and return the normalised value, which is
what should be stored.
"""

from __future__ import annotations

import datetime
import re
import unicodedata

from django.db import models
from django.utils.translation import gettext_lazy as _
from stdnum import exceptions as stdnum_exceptions
from stdnum import numdb
from stdnum.cn import ric as stdnum_ric
from stdnum.iso7064 import mod_11_2

from core.errors import ValidationFailed

__all__ = [
    "IdentityError",
    "PersonalIdType",
    "CredentialType",
    "normalize_personal_id",
    "validate_personal_id",
    "normalize_credential_number",
    "validate_credential_number",
    "credential_requires_number",
    "normalize_unit_name",
    "uscc_check_char",
    "organisation_code_check_char",
    "mask_identifier",
    "mask_numbers_in_text",
]


class IdentityError(ValidationFailed, ValueError):
    """A document or credential number failed validation.

    ``code`` is a short snake_case string (``invalid_format``,
    ``invalid_checksum``, ``invalid_birth_date``, ``invalid_area``,
    ``number_not_allowed``, ``required``, ``invalid_type``); ``message`` is a
    lazily translated, user-facing text.
    """

    def __init__(self, code: str, message):
        super().__init__(message, code=code)

    def __str__(self) -> str:
        # Forcing a lazy translation needs configured settings; fall back to
        # the code so that printing the error never fails.
        try:
            return f"{self.code}: {self.message}"
        except Exception:  # noqa: BLE001
            return self.code

    def __repr__(self) -> str:
        return f"IdentityError({self.code!r})"


# ---------------------------------------------------------------------------
# Choices
# ---------------------------------------------------------------------------


class PersonalIdType(models.TextChoices):
    RESIDENT_ID = "resident_id", _("Resident ID card")
    HMT_RESIDENCE_PERMIT = "hmt_residence_permit", _("Residence permit for Hong Kong, Macao and Taiwan residents")
    HMT_TRAVEL_PERMIT = "hmt_travel_permit", _("Travel permit for Hong Kong, Macao and Taiwan residents")
    FOREIGN_PERMANENT_RESIDENCE = "foreign_permanent_residence", _("Foreigner's permanent residence ID card")
    PASSPORT = "passport", _("Passport")
    MILITARY_ID = "military_id", _("Military or armed-police officer ID")


class CredentialType(models.TextChoices):
    BUSINESS_LICENCE = "business_licence", _("Business licence (unified social credit code)")
    PUBLIC_INSTITUTION = "public_institution", _("Public institution legal-person certificate")
    SOCIAL_ORGANISATION = "social_organisation", _("Social organisation registration certificate")
    ORGANISATION_CODE = "organisation_code", _("Organisation code certificate (legacy)")
    OFFICIAL_LETTER = (
        "official_letter",
        _("Unit introduction letter / official letter with seal (party, government, military)"),
    )


# ---------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------

# Full-width ASCII variants U+FF01..U+FF5E map to U+0021..U+007E; the
# ideographic space U+3000 is removed with the other whitespace.
_FULL_TO_HALF = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
# Hyphen-like characters people type in organisation codes.
_HYPHENS = dict.fromkeys(map(ord, "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63"), None)


def _normalize(raw) -> str:
    """Full-width to half-width, drop all whitespace, upper-case ASCII."""
    if raw is None:
        return ""
    value = str(raw).translate(_FULL_TO_HALF)
    value = "".join(value.split())
    return value.translate(_ASCII_UPPER)


# ---------------------------------------------------------------------------
# Shared building blocks
# ---------------------------------------------------------------------------

_MSG_FORMAT = _("The number has an invalid format.")
_MSG_LENGTH_18 = _("The number must have 18 characters.")
_MSG_CHECKSUM = _("The check digit of the number is wrong.")
_MSG_BIRTH_DATE = _("The date of birth in the number is not a valid date.")
_MSG_AREA = _("The area code in the number is unknown.")

_ID18_RE = re.compile(r"^\d{17}[\dX]$")

# Area codes of the residence permits for Hong Kong (81), Macao (82) and
# Taiwan (83) residents. stdnum rejects them (830000 is not in its table,
# 81/82 only count as valid for births after 1997/1999).
HMT_PERMIT_AREAS = frozenset({"810000", "820000", "830000"})


def _check_id18_format(number: str) -> None:
    if len(number) != 18:
        raise IdentityError("invalid_format", _MSG_LENGTH_18)
    if not _ID18_RE.match(number):
        raise IdentityError("invalid_format", _MSG_FORMAT)


def _birth_date(number: str) -> datetime.date:
    """Birth date from positions 7-14 (YYYYMMDD) of an 18-character ID."""
    try:
        birth = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdentityError("invalid_birth_date", _MSG_BIRTH_DATE) from None
    if birth.year < 1900 or birth > datetime.date.today():
        raise IdentityError("invalid_birth_date", _MSG_BIRTH_DATE)
    return birth


def _check_mod_11_2(number: str) -> None:
    try:
        mod_11_2.validate(number)
    except stdnum_exceptions.InvalidChecksum:
        raise IdentityError("invalid_checksum", _MSG_CHECKSUM) from None
    except stdnum_exceptions.ValidationError:
        raise IdentityError("invalid_format", _MSG_FORMAT) from None


def _area_known(area: str, birth_year: int) -> bool:
    """Whether ``area`` is a county code in stdnum's table that still existed
    in ``birth_year``.

    Only the end of a code's validity period is considered: an ID number is
    assigned at registration, which can be years after birth, so a person
    born before a district was created can legitimately carry its code
    (stdnum compares the start year with the birth year and rejects them).
    """
    results = numdb.get("cn/loc").info(area)
    info = {k: v for _part, props in results for k, v in props.items()}
    counties = info.get("county")
    if not counties:
        return False
    for county in counties.split(","):
        if not county.startswith("["):
            return True
        end = county[1:].split("]", 1)[0].split("-", 1)[1]
        if not end or birth_year <= int(end):
            return True
    return False


# ---------------------------------------------------------------------------
# Personal documents
# ---------------------------------------------------------------------------


def _validate_resident_id(number: str) -> None:
    _check_id18_format(number)
    birth = _birth_date(number)
    if number[:6] in HMT_PERMIT_AREAS:
        # Residence permits for HK/Macao/Taiwan residents share the format.
        _check_mod_11_2(number)
        return
    try:
        stdnum_ric.validate(number)
    except stdnum_exceptions.InvalidChecksum:
        raise IdentityError("invalid_checksum", _MSG_CHECKSUM) from None
    except stdnum_exceptions.InvalidComponent:
        # The birth date was already checked, so this is the area code.
        if not _area_known(number[:6], birth.year):
            raise IdentityError("invalid_area", _MSG_AREA) from None
    except KeyError:
        # stdnum 2.x raises KeyError for a known province with an unknown
        # county (e.g. 119999).
        raise IdentityError("invalid_area", _MSG_AREA) from None
    except stdnum_exceptions.ValidationError:
        raise IdentityError("invalid_format", _MSG_FORMAT) from None


def _validate_hmt_residence_permit(number: str) -> None:
    _check_id18_format(number)
    if number[:6] not in HMT_PERMIT_AREAS:
        raise IdentityError(
            "invalid_area",
            _("A residence permit number must start with 810000, 820000 or 830000."),
        )
    _birth_date(number)
    _check_mod_11_2(number)


_HMT_TRAVEL_RE = re.compile(r"^(?:[HM](?:\d{8}|\d{10})|\d{8}|\d{10})$")


def _validate_hmt_travel_permit(number: str) -> None:
    if not _HMT_TRAVEL_RE.match(number):
        raise IdentityError(
            "invalid_format",
            _(
                "A travel permit number is H or M followed by 8 or 10 digits "
                "(Hong Kong, Macao) or 8 or 10 digits (Taiwan)."
            ),
        )


_FOREIGN_OLD_RE = re.compile(r"^[A-Z]{3}\d{12}$")


def _validate_foreign_permanent_residence(number: str) -> None:
    if len(number) == 15:
        # 2004 format: 3-letter nationality code + 12 digits.
        if not _FOREIGN_OLD_RE.match(number):
            raise IdentityError("invalid_format", _MSG_FORMAT)
        return
    if len(number) != 18:
        raise IdentityError(
            "invalid_format",
            _("A permanent residence ID number has 15 or 18 characters."),
        )
    _check_id18_format(number)
    if number[0] != "9":
        raise IdentityError(
            "invalid_format",
            _("An 18-digit permanent residence ID number starts with 9."),
        )
    _birth_date(number)
    _check_mod_11_2(number)


_PASSPORT_RE = re.compile(r"^(?=.*\d)[A-Z0-9]{5,17}$")


def _validate_passport(number: str) -> None:
    if not _PASSPORT_RE.match(number):
        raise IdentityError(
            "invalid_format",
            _("A passport number has 5 to 17 letters or digits, including a digit."),
        )


_MILITARY_RE = re.compile(r"^(?:[\u4e00-\u9fff]{1,6}\d{6,12}号?|\d{6,12}号|(?=[A-Z]*\d)[A-Z0-9]{6,12})$")


def _validate_military_id(number: str) -> None:
    if not _MILITARY_RE.match(number):
        raise IdentityError(
            "invalid_format",
            _("An officer ID number has 6 to 12 digits, optionally with a prefix such as 军字第."),
        )


_PERSONAL_VALIDATORS = {
    PersonalIdType.RESIDENT_ID: _validate_resident_id,
    PersonalIdType.HMT_RESIDENCE_PERMIT: _validate_hmt_residence_permit,
    PersonalIdType.HMT_TRAVEL_PERMIT: _validate_hmt_travel_permit,
    PersonalIdType.FOREIGN_PERMANENT_RESIDENCE: _validate_foreign_permanent_residence,
    PersonalIdType.PASSPORT: _validate_passport,
    PersonalIdType.MILITARY_ID: _validate_military_id,
}


def _personal_validator(id_type):
    try:
        return _PERSONAL_VALIDATORS[PersonalIdType(id_type)]
    except (ValueError, KeyError):
        raise IdentityError("invalid_type", _("Unknown identity document type.")) from None


def normalize_personal_id(id_type, raw) -> str:
    """Strip all whitespace, upper-case ASCII letters and convert full-width
    digits/letters to half-width. Raises ``invalid_type`` for unknown types."""
    _personal_validator(id_type)
    return _normalize(raw)


def validate_personal_id(id_type, raw) -> str:
    """Normalise and validate a personal document number; return the
    normalised value or raise :class:`IdentityError`."""
    validator = _personal_validator(id_type)
    number = _normalize(raw)
    if not number:
        raise IdentityError("required", _("Enter the document number."))
    validator(number)
    return number


# ---------------------------------------------------------------------------
# Organisation credentials
# ---------------------------------------------------------------------------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# Registration authority (first character): 1 organisation establishment
# (机构编制), 2 foreign affairs, 3 judicial administration, 4 culture,
# 5 civil affairs, 6 religious affairs, 7 trade unions, 8 other (e.g. veterans),
# 9 market supervision (industry and commerce), A central military commission,
# N agriculture, Y others.
USCC_AUTHORITIES = "123456789ANY"

# Whether the organisation code embedded in a USCC (characters 9-17) must pass
# its own GB 11714 check. GB 32100-2015 specifies that this part is coded per
# GB 11714 (i.e. it is a complete organisation code including its check
# character).
USCC_CHECK_EMBEDDED_ORGANISATION_CODE = True

_ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_CODE_RE = re.compile(r"^[0-9A-Z]{8}[0-9X]$")


def uscc_check_char(first17: str) -> str:
    """GB 32100-2015 check character for the first 17 characters of a USCC."""
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def organisation_code_check_char(body: str) -> str:
    """GB 11714 check character for the 8 body characters of an organisation
    code (digits 0-9, letters A-Z valued 10-35)."""
    total = sum(int(c, 36) * w for c, w in zip(body, _ORG_CODE_WEIGHTS, strict=True))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def _validate_organisation_code(number: str) -> None:
    if not _ORG_CODE_RE.match(number):
        raise IdentityError(
            "invalid_format",
            _("An organisation code has 8 letters or digits and a check character."),
        )
    if organisation_code_check_char(number[:8]) != number[8]:
        raise IdentityError("invalid_checksum", _MSG_CHECKSUM)


def _validate_uscc(number: str, authorities: str = USCC_AUTHORITIES) -> None:
    if len(number) != 18:
        raise IdentityError("invalid_format", _MSG_LENGTH_18)
    if any(c not in USCC_ALPHABET for c in number):
        raise IdentityError(
            "invalid_format",
            _("The code may contain only digits and capital letters except I, O, S, V and Z."),
        )
    if number[0] not in authorities:
        raise IdentityError("invalid_format", _("The first character of the code is not valid for this credential."))
    if not number[2:8].isdigit():
        raise IdentityError("invalid_format", _("Characters 3 to 8 of the code must be digits."))
    if uscc_check_char(number[:17]) != number[17]:
        raise IdentityError("invalid_checksum", _MSG_CHECKSUM)
    if USCC_CHECK_EMBEDDED_ORGANISATION_CODE:
        body = number[8:17]
        if organisation_code_check_char(body[:8]) != body[8]:
            raise IdentityError(
                "invalid_checksum",
                _("The organisation code contained in the code is not valid."),
            )


def _validate_business_licence(number: str) -> None:
    _validate_uscc(number)


_PUBLIC_INSTITUTION_LEGACY_RE = re.compile(r"^(?:事证第)?\d{12}号?$")


def _validate_public_institution(number: str) -> None:
    if len(number) == 18:
        _validate_uscc(number, authorities="1")
    elif not _PUBLIC_INSTITUTION_LEGACY_RE.match(number):
        raise IdentityError(
            "invalid_format",
            _("Enter the 18-character unified social credit code or the 12-digit certificate number."),
        )


_SOCIAL_ORGANISATION_LEGACY_RE = re.compile(r"^[A-Z0-9]{6,20}$")


def _validate_social_organisation(number: str) -> None:
    # An 18-character value is always treated as a USCC, so that a mistyped
    # code is not silently accepted as a legacy number.
    if len(number) == 18:
        _validate_uscc(number, authorities="5")
    elif not _SOCIAL_ORGANISATION_LEGACY_RE.match(number):
        raise IdentityError(
            "invalid_format",
            _("Enter the 18-character unified social credit code or the certificate number."),
        )


def _validate_official_letter(number: str) -> None:
    if number:
        raise IdentityError("number_not_allowed", _("An official letter does not carry a number."))


_CREDENTIAL_VALIDATORS = {
    CredentialType.BUSINESS_LICENCE: _validate_business_licence,
    CredentialType.PUBLIC_INSTITUTION: _validate_public_institution,
    CredentialType.SOCIAL_ORGANISATION: _validate_social_organisation,
    CredentialType.ORGANISATION_CODE: _validate_organisation_code,
    CredentialType.OFFICIAL_LETTER: _validate_official_letter,
}


def _credential_type(cred_type) -> CredentialType:
    try:
        return CredentialType(cred_type)
    except ValueError:
        raise IdentityError("invalid_type", _("Unknown credential type.")) from None


def credential_requires_number(cred_type) -> bool:
    """Whether a credential of this type carries a number."""
    return _credential_type(cred_type) != CredentialType.OFFICIAL_LETTER


def normalize_credential_number(cred_type, raw) -> str:
    """Strip whitespace, upper-case, full-width to half-width; hyphens are
    also removed for organisation codes."""
    cred_type = _credential_type(cred_type)
    number = _normalize(raw)
    if cred_type == CredentialType.ORGANISATION_CODE:
        number = number.translate(_HYPHENS)
    return number


def normalize_unit_name(raw) -> str:
    """A unit name as it identifies the unit: NFKC (full-width to half-width), without spaces,
    punctuation or control characters, Latin letters case-folded.

    `北京市水务局` and ` 北京市　水务局。` are one unit: a letter unit has no number, so its name
    is what finds it again (E1).
    """
    if raw is None:
        return ""
    value = unicodedata.normalize("NFKC", str(raw))
    kept = (char for char in value if unicodedata.category(char)[0] not in {"P", "Z", "C"})
    return "".join(kept).casefold()


def validate_credential_number(cred_type, raw) -> str:
    """Normalise and validate an organisation credential number; return the
    normalised value ('' for official letters) or raise IdentityError."""
    cred_type = _credential_type(cred_type)
    number = normalize_credential_number(cred_type, raw)
    if not number and credential_requires_number(cred_type):
        raise IdentityError("required", _("Enter the credential number."))
    _CREDENTIAL_VALIDATORS[cred_type](number)
    return number


# ---------------------------------------------------------------------------
# Masking
# ---------------------------------------------------------------------------


def mask_identifier(value: str) -> str:
    """Mask an identifier for display, preserving its length.

    >= 15 characters: keep the first 6 and last 4; 5-14: keep the first 2 and
    last 2; <= 4: mask everything.
    """
    if not value:
        return ""
    n = len(value)
    if n <= 4:
        return "*" * n
    keep_head, keep_tail = (6, 4) if n >= 15 else (2, 2)
    return value[:keep_head] + "*" * (n - keep_head - keep_tail) + value[-keep_tail:]


def mask_name(value: str) -> str:
    """A person's name for lists and masked views: the first character, and the last of a name of
    three or more (王*, 欧*明, 欧阳**玲); the rest starred."""
    value = (value or "").strip()
    n = len(value)
    if n <= 1:
        return "*" * n
    if n == 2:
        return value[0] + "*"
    return value[0] + "*" * (n - 2) + value[-1]


def mask_address(value: str) -> str:
    """An address with only its first six characters (province and city, as a rule) shown."""
    value = (value or "").strip()
    return value[:6] + "*" * min(max(len(value) - 6, 0), 8)


# Tokens shaped like ID or credential numbers (8+ characters, mostly digits).
_NUMBER_LIKE = re.compile(r"(?<![0-9A-Za-z])[0-9A-Za-z]{8,}(?![0-9A-Za-z])")


def mask_numbers_in_text(text: str | None) -> str:
    """Free text people wrote (comments, reasons) with anything shaped like an ID or credential number
    masked: an 8+ character run of letters and digits with at least 6 digits. For display and email; the
    stored text stays as written."""

    def mask(match: re.Match) -> str:
        token = match.group(0)
        return mask_identifier(token) if sum(ch.isdigit() for ch in token) >= 6 else token

    return _NUMBER_LIKE.sub(mask, text or "")
