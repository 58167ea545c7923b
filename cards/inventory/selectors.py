"""Scoped reads of cards: nothing here returns what the user may not see."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.access import scoped
from cards import hooks
from cards.models import Card, CardBinding, CardEvent, CardStatus
from core.errors import NotFound, ValidationFailed
from core.search import digits_prefix
from enterprises.models import Enterprise


def cards_visible_to(user: Any) -> QuerySet[Card]:
    # The card's own province and sandbox columns: a province's list needs no join (issue 12 §1.4).
    return scoped(Card.objects.all(), user, path="enterprise__", own_scope_columns=True).select_related(
        "package", "enterprise"
    )


# Cards not yet in use: in stock (real-name is needed before they go live) or held at the U5 gate.
REALNAME_PENDING_STATUSES = (CardStatus.IN_STOCK, CardStatus.AWAITING_REALNAME)


def lacking_realname_q() -> Q:
    """The condition on a card row of cards_lacking_realname, for a filter or an aggregate's CASE."""
    return (
        Q(status__in=REALNAME_PENDING_STATUSES, realname_required=True)
        & ~Q(Exists(CardBinding.objects.filter(card=OuterRef("pk"), ended_at__isnull=True)))
        & ~Q(hooks.exemption_approved_expression.ask())
    )


def cards_lacking_realname(queryset: QuerySet[Card]) -> QuerySet[Card]:
    """The cards that need their user's real-name (U5) and lack it: no live binding and no approved
    exemption, whether they wait at the gate or are still in stock and will need it to be activated."""
    return queryset.filter(lacking_realname_q())


def cards_covered_realname(queryset: QuerySet[Card]) -> QuerySet[Card]:
    """The cards that need their user's real-name and are not lacking it: bound, exempted, or no longer
    waiting for it (the dashboards' third real-name state, beside "not needed" and "lacking")."""
    return queryset.filter(Q(realname_required=True) & ~lacking_realname_q())


# A full ICCID is 19 or 20 digits, a full MSISDN 11 or 13: those are matched exactly (the unique index),
# anything shorter as a prefix of either.
FULL_ICCID_LENGTHS = (19, 20)
FULL_MSISDN_LENGTHS = (11, 13)
SEARCH_MAX_LENGTH = 20


def normalise_card_search(raw: object) -> str:
    """The digits of a card search, spaces and dashes dropped (people paste "8986 0012 ..."); a search
    with anything else in it is refused (code invalid_card_search), as is one longer than an ICCID."""
    # NFKC: full-width digits from a Chinese input method are digits too.
    value = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", str(raw or "")))
    if value and (not (value.isascii() and value.isdigit()) or len(value) > SEARCH_MAX_LENGTH):
        raise ValidationFailed(
            _("Search cards by the digits of an ICCID or number, or their start."),
            code="invalid_card_search",
            field="q",
        )
    return value


def search_cards(queryset: QuerySet[Card], raw: object) -> QuerySet[Card]:
    """Cards whose ICCID or MSISDN is the search (a full one) or starts with it (a shorter one)."""
    value = normalise_card_search(raw)
    if not value:
        return queryset
    condition = Q()
    if len(value) in FULL_ICCID_LENGTHS:
        condition |= Q(iccid=value)
    else:
        condition |= digits_prefix("iccid", value)
    if len(value) <= max(FULL_MSISDN_LENGTHS):
        condition |= msisdn_condition(value)
    return queryset.filter(condition)


def msisdn_condition(digits: str) -> Q:
    """A whole MSISDN (11 or 13 digits) matches exactly, fewer digits match its start: each on an index of
    its own (the unique one, and the pattern index PostgreSQL needs for LIKE 'prefix%')."""
    if len(digits) in FULL_MSISDN_LENGTHS:
        return Q(msisdn=digits)
    return Q(msisdn__startswith=digits)


def card_for_user(user: Any, iccid: str) -> Card:
    card = cards_visible_to(user).filter(iccid=str(iccid)).first()
    if card is None:
        raise NotFound(_("The card does not exist or you have no access to it."))
    return card


def enterprise_cards_for_user(user: Any, enterprise: Enterprise, iccids: Iterable[object]) -> list[Card]:
    """The enterprise's cards named by `iccids` (duplicates and blanks around them ignored), as the
    user may see them. Any ICCID that is not one is refused by name (field "cards", unknown_card)."""
    wanted = list(dict.fromkeys(str(value).strip() for value in iccids))
    cards = list(cards_visible_to(user).filter(enterprise=enterprise, iccid__in=wanted))
    missing = sorted(set(wanted) - {card.iccid for card in cards})
    if missing:
        raise ValidationFailed(
            _("These ICCIDs are not cards of this enterprise: %(iccids)s") % {"iccids": ", ".join(missing[:10])},
            code="unknown_card",
            field="cards",
        )
    return cards


def live_binding(card: Card) -> CardBinding | None:
    return card.bindings.filter(ended_at__isnull=True).select_related("card_user").first()


def card_events(card: Card) -> QuerySet[CardEvent]:
    return card.events.select_related("actor").order_by("-at", "-id")
