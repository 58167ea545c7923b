"""The card list of a link: ICCIDs or MSISDNs, pasted or from a CSV/TXT file, matched to the enterprise's cards."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cards.models import Card
from cards.rules import MsisdnError, validate_msisdn
from core.errors import ValidationFailed

# A link is sent to people, not to a whole inventory; a bigger batch is several links (or none: no list
# covers every card of the enterprise that awaits real-name).
MAX_CARDS = 10_000
MAX_FILE_BYTES = 1024 * 1024
UNKNOWN_SHOWN = 5
_LOOKUP_CHUNK = 500
# Separators people paste between numbers: white space, commas, semicolons (also full-width), quotes.
_SEPARATORS = re.compile(r"[\s,;，；、\"'|]+")
_ICCID = re.compile(r"89\d{17,18}")

MSG_FILE_TYPE = _("The card list must be a CSV or TXT file (UTF-8 or GBK text) of ICCIDs or MSISDNs.")
MSG_FILE_TOO_LARGE = _("The card list file is larger than 1 MB. Split it into several links.")
MSG_TOO_MANY = _("A link covers at most %(limit)s cards; this list names %(count)s.")
MSG_UNKNOWN = _(
    "%(count)s of the numbers given are not cards of this enterprise (ICCID or MSISDN), for example: %(first)s. "
    "Nothing was created: correct the list and try again."
)


def split_identifiers(text: str) -> list[str]:
    """The numbers in pasted text or a file, in order; cells without a digit (a header such as "iccid") are skipped."""
    return [part for part in _SEPARATORS.split(text or "") if any(ch.isdigit() for ch in part)]


def read_card_file(upload) -> list[str]:
    """The numbers of an uploaded CSV or TXT file (plain text; its layout does not matter)."""
    content = upload.read(MAX_FILE_BYTES + 1)
    if len(content) > MAX_FILE_BYTES:
        raise ValidationFailed(MSG_FILE_TOO_LARGE, code="too_large", field="card_file")
    if b"\x00" in content:
        raise ValidationFailed(MSG_FILE_TYPE, code="unsupported_type", field="card_file")
    for encoding in ("utf-8-sig", "gbk"):
        try:
            return split_identifiers(content.decode(encoding))
        except UnicodeDecodeError:
            continue
    raise ValidationFailed(MSG_FILE_TYPE, code="unknown_encoding", field="card_file")


def _normalised(raw: str) -> tuple[str, str] | None:
    """("iccid"|"msisdn", value), or None for something that is neither."""
    value = "".join(str(raw).split())
    if _ICCID.fullmatch(value):
        return "iccid", value
    try:
        return "msisdn", validate_msisdn(value)
    except MsisdnError:
        return None


def enterprise_cards(enterprise, identifiers: Iterable[str], *, field: str = "iccids") -> list[Card]:
    """The enterprise's cards named by `identifiers`; any number that is not one refuses the whole list."""
    wanted = list(dict.fromkeys(str(value).strip() for value in identifiers if str(value).strip()))
    if len(wanted) > MAX_CARDS:
        raise ValidationFailed(
            MSG_TOO_MANY % {"limit": MAX_CARDS, "count": len(wanted)}, code="too_many_cards", field=field
        )
    parsed = {raw: _normalised(raw) for raw in wanted}
    pairs = [pair for pair in parsed.values() if pair is not None]
    iccids = {value for kind, value in pairs if kind == "iccid"}
    msisdns = {value for kind, value in pairs if kind == "msisdn"}
    found: dict[int, Card] = {}
    known: set[tuple[str, str]] = set()
    for kind, values in (("iccid", sorted(iccids)), ("msisdn", sorted(msisdns))):
        for start in range(0, len(values), _LOOKUP_CHUNK):
            chunk = values[start : start + _LOOKUP_CHUNK]
            for card in Card.objects.filter(Q(enterprise=enterprise) & Q(**{f"{kind}__in": chunk})):
                found[card.pk] = card
                known.add((kind, getattr(card, kind)))
    unknown = [raw for raw, kind_value in parsed.items() if kind_value is None or kind_value not in known]
    if unknown:
        raise ValidationFailed(
            MSG_UNKNOWN % {"count": len(unknown), "first": ", ".join(unknown[:UNKNOWN_SHOWN])},
            code="unknown_cards",
            field=field,
            extra={"unknown_count": len(unknown), "unknown_first": unknown[:UNKNOWN_SHOWN]},
        )
    return list(found.values())


__all__ = ["MAX_CARDS", "enterprise_cards", "read_card_file", "split_identifiers"]
