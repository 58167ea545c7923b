"""Scoped reads of orders: an order the user may not see does not exist for them."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.access import scoped
from cards.models import (
    Order,
    OrderCard,
)
from core.errors import (
    NotFound,
)
from core.search import clean_search, digits_prefix
from verification.models import Verification, VerificationPurpose


def orders_visible_to(user: Any) -> QuerySet[Order]:
    return scoped(Order.objects.all(), user, path="enterprise__").select_related("enterprise", "handler")


def set_card_counts(orders: list[Any]) -> None:
    """The cards of the orders a page shows, in one query over their ids: a COUNT joined over the whole
    scope grew with the orders (the API's list, issue 12 §1.4)."""
    counts = dict(
        OrderCard.objects.filter(order_id__in=[order.pk for order in orders])
        .order_by()
        .values_list("order_id")
        .annotate(n=Count("pk"))
        .values_list("order_id", "n")
    )
    for order in orders:
        order.card_count = counts.get(order.pk, 0)


def search_orders(queryset: QuerySet[Order], raw: object) -> QuerySet[Order]:
    """Orders found by their number (whole or its start, any case) or by a card's ICCID (whole or its
    start): an EXISTS over the order's lines, so an order with many matching cards shows once."""
    value = "".join(clean_search(raw).split()).upper()
    if not value:
        return queryset
    condition = Q(number__startswith=value)
    if value.isdigit():
        lines = OrderCard.objects.filter(order=OuterRef("pk"))
        lines = (
            lines.filter(card__iccid=value) if len(value) >= 19 else lines.filter(digits_prefix("card__iccid", value))
        )
        condition |= Q(Exists(lines))
    return queryset.filter(condition)


MSG_NOT_FOUND = _("The order does not exist or you have no access to it.")


# --- reads ------------------------------------------------------------------


def order_for_user(user: Any, public_id: object) -> Order:
    """A visible order (else NotFound, also for a malformed id)."""
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        key = None
    order = orders_visible_to(user).filter(public_id=key).first() if key else None
    if order is None:
        raise NotFound(MSG_NOT_FOUND)
    return order


def order_latest_verification(order: Order) -> Verification | None:
    return order.verifications.filter(purpose=VerificationPurpose.HANDLER).order_by("-created_at", "-pk").first()


def order_lines(order: Order) -> QuerySet[OrderCard]:
    return OrderCard.objects.filter(order=order).select_related("card", "card__package").order_by("pk")


__all__ = [
    "order_for_user",
    "order_latest_verification",
    "order_lines",
    "search_orders",
]
