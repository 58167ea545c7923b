"""Card identifiers: ICCID (19–20 digits, prefix 89, Luhn) and IMSI."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from stdnum import luhn
from stdnum.exceptions import ValidationError as StdnumError

from cards.rules import MsisdnError, validate_msisdn
from core.errors import ValidationFailed


def iccid_with_check_digit(body: str) -> str:
    """`body` (18 or 19 digits) with the Luhn check digit that makes it a valid ICCID."""
    return body + luhn.calc_check_digit(body)


def validate_iccid(raw: str, *, field: str = "iccid") -> str:
    value = "".join((raw or "").split())
    if not value.isdigit() or not 19 <= len(value) <= 20 or not value.startswith("89"):
        raise ValidationFailed(_("An ICCID has 19 or 20 digits and starts with 89."), code="invalid_iccid", field=field)
    try:
        luhn.validate(value)
    except StdnumError as exc:
        raise ValidationFailed(
            _("The ICCID's check digit is wrong (Luhn)."), code="invalid_iccid_checksum", field=field
        ) from exc
    return value


def validate_card_msisdn(raw: str, *, field: str = "msisdn") -> str:
    try:
        return validate_msisdn(raw or "")
    except MsisdnError as exc:
        raise ValidationFailed(
            _("The number must have 11 digits, or 13 digits for IoT numbers, and start with 1."),
            code="invalid_msisdn",
            field=field,
        ) from exc


def validate_imsi(raw: str, *, field: str = "imsi") -> str:
    value = "".join((raw or "").split())
    if value and (not value.isdigit() or not 14 <= len(value) <= 15 or not value.startswith("460")):
        raise ValidationFailed(
            _("An IMSI has 15 digits and starts with 460 (China)."), code="invalid_imsi", field=field
        )
    return value
