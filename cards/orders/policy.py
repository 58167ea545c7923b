"""What an order may be: who may file one, and the later-business photos (E2, P3). Which business
needs the H3 face gate, which card states and parameters each takes: cards.models.BUSINESSES."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.roles import Role
from cards.models import Order
from cards.policy import can_manage_enterprise_cards
from enterprises.models import Enterprise
from enterprises.selectors import enterprises_visible_to


class PermissionText:
    """Refusals shared by the service, the pages and the API, so they read the same everywhere."""

    CREATE = _("Your role may not file orders for this enterprise.")
    CHANGE = _("Your role may not change this order.")


# --- who may file orders ----------------------------------------------------


def can_create_order(user, enterprise) -> bool:
    """Account managers of the enterprise's province and the enterprise's own admin."""
    return can_manage_enterprise_cards(user, enterprise)


def order_enterprises_for(user) -> QuerySet[Enterprise]:
    """The enterprises the user may file orders for (the wizard's choice)."""
    queryset = enterprises_visible_to(user)
    if user is None or not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.role == Role.ACCOUNT_MANAGER and user.province_id is not None:
        return queryset.filter(province_id=user.province_id)
    if user.role == Role.ENTERPRISE_ADMIN and user.enterprise_id is not None:
        return queryset.filter(pk=user.enterprise_id)
    return queryset.none()


def may_file_orders_somewhere(user) -> bool:
    return order_enterprises_for(user).exists()


# --- E2, P3: the fresh enterprise photos of a later business -----------------


def order_needs_fresh_documents(enterprise) -> bool:
    """Whether an order filed now is a later business of the enterprise (E2, P3): see order_create."""
    return Order.objects.filter(enterprise_id=enterprise.pk).exists()


__all__ = [
    "PermissionText",
    "can_create_order",
    "may_file_orders_somewhere",
    "order_needs_fresh_documents",
    "order_enterprises_for",
]
