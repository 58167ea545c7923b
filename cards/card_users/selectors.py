"""Scoped reads of card users and their bindings: nothing here returns what the user may not see."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.access import scoped
from accounts.pii import personal_id_index
from cards.models import CardBinding, CardUser
from core.errors import NotFound
from core.identity import PersonalIdType, normalize_personal_id
from core.search import clean_search, looks_like_id_number, masked_id_candidates


def card_users_visible_to(user: Any) -> QuerySet[CardUser]:
    return scoped(CardUser.objects.all(), user, path="enterprise__").select_related("enterprise")


def search_card_users(queryset: QuerySet[CardUser], raw: object) -> QuerySet[CardUser]:
    """Card users found by a search: a document number matches exactly, through the blind index of
    each document type (the number column is encrypted, so never a LIKE on it); an 18-character
    number masked as the list shows it matches the numbers it may stand for, the same way; anything
    else is a part of the name."""
    value = clean_search(raw)
    if not value:
        return queryset
    candidates = masked_id_candidates(value)
    if candidates is not None:
        # The masked number as the list shows it: every number it may stand for, through the blind index.
        return queryset.filter(id_number_index__in=[personal_id_index("resident_id", number) for number in candidates])
    if looks_like_id_number(value):
        indexes = {
            personal_id_index(id_type, normalize_personal_id(id_type, value)) for id_type in PersonalIdType.values
        }
        return queryset.filter(id_number_index__in=indexes)
    return queryset.filter(name__icontains=value)


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
