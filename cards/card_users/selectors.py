"""Scoped reads of card users and their bindings: nothing here returns what the user may not see."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.access import scoped
from cards.models import CardBinding, CardUser
from core.errors import NotFound


def card_users_visible_to(user: Any) -> QuerySet[CardUser]:
    return scoped(CardUser.objects.all(), user, path="enterprise__").select_related("enterprise")


def _parse_uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def card_user_for_user(user: Any, public_id: object) -> CardUser:
    key = _parse_uuid(public_id)
    card_user = card_users_visible_to(user).filter(public_id=key).first() if key else None
    if card_user is None:
        raise NotFound(_("The card user does not exist or you have no access to it."))
    return card_user


def person_registrations(user: Any, card_user: CardUser) -> QuerySet[CardUser]:
    """Every registration of this card user's ID (one ID number is one person, issue 11 §1.3) in the
    enterprises `user` may see; a sandbox's own only, as the five-card count keeps them apart."""
    queryset = card_users_visible_to(user).filter(id_number_index=card_user.id_number_index)
    if card_user.enterprise.sandbox_of_id is not None:
        return queryset.filter(enterprise_id=card_user.enterprise_id)
    return queryset.filter(enterprise__sandbox_of__isnull=True)


def person_bindings(registrations: QuerySet[CardUser]) -> QuerySet[CardBinding]:
    """The cards those registrations hold or held: live ones first, then the most recent."""
    return (
        CardBinding.objects.filter(card_user__in=registrations)
        .select_related("card", "card__enterprise", "card_user")
        .order_by("ended_at", "-bound_at", "-pk")
    )


def card_user_bindings(card_user: CardUser) -> QuerySet[CardBinding]:
    return card_user.bindings.select_related("card").order_by("ended_at", "-bound_at")
