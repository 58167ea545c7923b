"""What an order may be: who may file one, and the later-business photos (E2, P3). Which business
needs the H3 face gate, which card states and parameters each takes: cards.models.BUSINESSES."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.permissions import Capability, scope_filter
from cards.models import Order
from enterprises.models import Enterprise
from enterprises.selectors import enterprises_visible_to


class PermissionText:
    """Refusals shared by the service, the pages and the API, so they read the same everywhere."""

    CREATE = _("Your role may not file orders for this enterprise.")
    CHANGE = _("Your role may not change this order.")


# --- who may file orders ----------------------------------------------------


def order_enterprises_for(user) -> QuerySet[Enterprise]:
    """The enterprises the user may file orders for (the wizard's choice; none: no wizard at all)."""
    return enterprises_visible_to(user).filter(scope_filter(user, Capability.ORDERS_FILE))


# --- E2, P3: the fresh enterprise photos of a later business -----------------


def order_needs_fresh_documents(enterprise) -> bool:
    """Whether an order filed now is a later business of the enterprise (E2, P3): see order_create."""
    return Order.objects.filter(enterprise_id=enterprise.pk).exists()


__all__ = [
    "PermissionText",
    "order_needs_fresh_documents",
    "order_enterprises_for",
]
