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


# A sandbox's cards (issue 10 §5) live in numbers no real card uses, and each sandbox in a range of its
# own. A test key may only put cards in its own range and a real enterprise never in any sandbox's: a
# "this ICCID is already registered" answer to a test key would otherwise tell it that a real card
# holds the number.
SANDBOX_ICCID_PREFIX = "898699"
SANDBOX_MSISDN_PREFIX = "19999"

MSG_SANDBOX_RANGE = _(
    "A sandbox takes only the card numbers of its own range: ICCIDs that start with %(iccid)s and numbers "
    "that start with %(msisdn)s."
)
MSG_SANDBOX_RESERVED = _("This range of card numbers is kept for the test sandbox; a real card cannot use it.")


def sandbox_iccid_prefix(sandbox_pk: int) -> str:
    return f"{SANDBOX_ICCID_PREFIX}{sandbox_pk:010d}"


def sandbox_msisdn_prefix(sandbox_pk: int) -> str:
    return f"{SANDBOX_MSISDN_PREFIX}{sandbox_pk % 1_000_000:06d}"


def number_range_refusal(enterprise, iccid: str, msisdn: str) -> tuple[str, str] | None:
    """(code, field) when the card's numbers are outside what `enterprise` may hold, else None."""
    if getattr(enterprise, "sandbox_of_id", None) is not None:
        if not iccid.startswith(sandbox_iccid_prefix(enterprise.pk)):
            return "sandbox_number_range", "iccid"
        if not msisdn.startswith(sandbox_msisdn_prefix(enterprise.pk)):
            return "sandbox_number_range", "msisdn"
        return None
    if iccid.startswith(SANDBOX_ICCID_PREFIX):
        return "sandbox_number_reserved", "iccid"
    if len(msisdn) == 13 and msisdn.startswith(SANDBOX_MSISDN_PREFIX):
        return "sandbox_number_reserved", "msisdn"
    return None


def validate_number_range(enterprise, iccid: str, msisdn: str, *, iccid_field: str = "iccid") -> None:
    refusal = number_range_refusal(enterprise, iccid, msisdn)
    if refusal is None:
        return
    code, field = refusal
    field = iccid_field if field == "iccid" else field
    if code == "sandbox_number_reserved":
        raise ValidationFailed(MSG_SANDBOX_RESERVED, code=code, field=field)
    raise ValidationFailed(
        MSG_SANDBOX_RANGE
        % {"iccid": sandbox_iccid_prefix(enterprise.pk), "msisdn": sandbox_msisdn_prefix(enterprise.pk)},
        code=code,
        field=field,
    )
