"""What an order may be: who may file one, which business needs the H3 face gate, which card states
and parameters each business takes."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.permissions import Capability, scope_filter
from cards.models import (
    FACE_GATED_BUSINESS_TYPES,
    LIVE_CARD_STATUSES,
    BusinessType,
    CardStatus,
    Order,
)
from enterprises.models import Enterprise
from enterprises.selectors import enterprises_visible_to

SUSPEND, RESUME = "suspend", "resume"
ACTIONS = (SUSPEND, RESUME)

# The card states each business may start from (suspension/resumption: see _clean_suspend_resume).
ALLOWED_CARD_STATUSES: dict[str, frozenset[str]] = {
    BusinessType.NEW_INSTALLATION: frozenset({CardStatus.IN_STOCK, CardStatus.AWAITING_REALNAME}),
    BusinessType.OWNERSHIP_TRANSFER: frozenset(LIVE_CARD_STATUSES),
    BusinessType.SUPPLEMENTARY_REGISTRATION: frozenset(LIVE_CARD_STATUSES),
    BusinessType.CARD_REPLACEMENT: frozenset(LIVE_CARD_STATUSES),
    BusinessType.SERVICE_CHANGE: frozenset(LIVE_CARD_STATUSES),
    BusinessType.SUSPEND_RESUME: frozenset({CardStatus.ACTIVE, CardStatus.SUSPENDED}),
    BusinessType.CANCELLATION: frozenset(LIVE_CARD_STATUSES),
}

# The parameters each business takes; anything else is refused, so a typo is never ignored.
PARAMETER_KEYS: dict[str, frozenset[str]] = {
    BusinessType.NEW_INSTALLATION: frozenset(),
    BusinessType.OWNERSHIP_TRANSFER: frozenset({"target_enterprise"}),
    BusinessType.SUPPLEMENTARY_REGISTRATION: frozenset(),
    BusinessType.CARD_REPLACEMENT: frozenset({"new_iccids"}),
    BusinessType.SERVICE_CHANGE: frozenset({"data", "voice", "sms", "package"}),
    BusinessType.SUSPEND_RESUME: frozenset({"action"}),
    BusinessType.CANCELLATION: frozenset(),
}


class PermissionText:
    """Refusals shared by the service, the pages and the API, so they read the same everywhere."""

    CREATE = _("Your role may not file orders for this enterprise.")
    CHANGE = _("Your role may not change this order.")


def is_face_gated(business_type: str) -> bool:
    return business_type in FACE_GATED_BUSINESS_TYPES


# --- who may file orders ----------------------------------------------------


def order_enterprises_for(user) -> QuerySet[Enterprise]:
    """The enterprises the user may file orders for (the wizard's choice; none: no wizard at all)."""
    return enterprises_visible_to(user).filter(scope_filter(user, Capability.ORDERS_FILE))


# --- E2, P3: the fresh enterprise photos of a later business -----------------


def order_needs_fresh_documents(enterprise) -> bool:
    """Whether an order filed now is a later business of the enterprise (E2, P3): see order_create."""
    return Order.objects.filter(enterprise_id=enterprise.pk).exists()


__all__ = [
    "ALLOWED_CARD_STATUSES",
    "PermissionText",
    "is_face_gated",
    "order_needs_fresh_documents",
    "order_enterprises_for",
]
