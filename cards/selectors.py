"""Scoped reads of cards and card users: nothing here returns what the user may not see."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.access import scoped
from cards.models import Card, CardBinding, CardUser, Order
from core.errors import NotFound, ValidationFailed


def cards_visible_to(user) -> QuerySet[Card]:
    return scoped(Card.objects.all(), user, path="enterprise__").select_related("package", "enterprise")


def card_for_user(user, iccid: str) -> Card:
    card = cards_visible_to(user).filter(iccid=str(iccid)).first()
    if card is None:
        raise NotFound(_("The card does not exist or you have no access to it."))
    return card


def enterprise_cards_for_user(user, enterprise, iccids) -> list[Card]:
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


def card_users_visible_to(user) -> QuerySet[CardUser]:
    return scoped(CardUser.objects.all(), user, path="enterprise__").select_related("enterprise")


def orders_visible_to(user) -> QuerySet[Order]:
    return scoped(Order.objects.all(), user, path="enterprise__").select_related("enterprise", "handler")


def live_binding(card: Card) -> CardBinding | None:
    return card.bindings.filter(ended_at__isnull=True).select_related("card_user").first()


def _parse_uuid(value):
    import uuid

    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def card_user_for_user(user, public_id) -> CardUser:
    key = _parse_uuid(public_id)
    card_user = card_users_visible_to(user).filter(public_id=key).first() if key else None
    if card_user is None:
        raise NotFound(_("The card user does not exist or you have no access to it."))
    return card_user


def card_events(card: Card) -> QuerySet:
    return card.events.select_related("actor").order_by("-at", "-id")


def card_user_bindings(card_user: CardUser) -> QuerySet[CardBinding]:
    return card_user.bindings.select_related("card").order_by("ended_at", "-bound_at")
