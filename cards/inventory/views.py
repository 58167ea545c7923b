"""Server-rendered pages for cards and the rule decision (U0-U6, C1).

Views translate HTTP into service calls: objects come through cards.inventory.selectors
(scoped by role: invisible is 404), the per-action permission from
the capability table, accounts.permissions (visible but not allowed is 403), writes go through
cards.card_users, and domain errors become form errors or alerts. A card
changes only through an order (H2): the card page links into the order
wizard (cards.orders.views), pre-filled. No personal number is ever put in a URL.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import (
    require_http_methods,
    require_POST,
    require_safe,
)

from accounts.permissions import Capability, can
from accounts.roles import Role
from cards.inventory import forms, selectors
from cards.inventory.presentation import decision_view
from cards.inventory.serializers import event_label
from cards.models import LIVE_CARD_STATUSES, CardStatus
from core import errors

PAGE_SIZE = 25
MSG_THROUGH_AN_ORDER = _(
    "Every business on a card is done through an order that records its handler (rule H2). "
    "The order is pre-filled for this card: continue with the handler."
)
COUNT_CAP = 10_000
HISTORY_LIMIT = 100

require_form_methods = require_http_methods(["GET", "HEAD", "POST"])

# H2: every business on a card is an order with its handler. The card page's buttons open the order
# wizard pre-filled with the business (and, for suspend/resume, the action); each entry says in which
# card states the business applies (cards.orders checks it again when the order is filed).
BUSINESS_LINKS = {
    "activate": ("new_installation", None, {CardStatus.IN_STOCK, CardStatus.AWAITING_REALNAME}),
    "suspend": ("suspend_resume", "suspend", {CardStatus.ACTIVE}),
    "resume": ("suspend_resume", "resume", {CardStatus.SUSPENDED}),
    "services": ("service_change", None, set(LIVE_CARD_STATUSES)),
    "transfer": ("ownership_transfer", None, set(LIVE_CARD_STATUSES)),
    "replace": ("card_replacement", None, set(LIVE_CARD_STATUSES)),
    "supplementary": ("supplementary_registration", None, set(LIVE_CARD_STATUSES)),
    "cancel": ("cancellation", None, set(LIVE_CARD_STATUSES)),
}


def order_wizard_url(card, name: str) -> str:
    """The order wizard's first step, pre-filled for this card and business."""
    business_type, action, _statuses = BUSINESS_LINKS[name]
    query = {"business_type": business_type, "enterprise": str(card.enterprise.public_id), "cards": card.iccid}
    if action:
        query["action"] = action
    return f"{reverse('orders:new')}?{urlencode(query)}"


class CappedPaginator(Paginator):
    """Counts at most COUNT_CAP + 1 rows (COUNT over a LIMIT subquery), so a page stays cheap with
    millions of cards; beyond the cap the page says "more than" and asks for filters."""

    cap = COUNT_CAP

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.cap + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > self.cap


# --- helpers ------------------------------------------------------------------


def _raise_http(exc: errors.DomainError) -> None:
    if isinstance(exc, errors.NotFound):
        raise Http404(str(exc.message)) from exc
    if isinstance(exc, errors.PermissionDenied):
        raise PermissionDenied(str(exc.message)) from exc


def _card(user, iccid: str, *, manage: bool = False):
    try:
        card = selectors.card_for_user(user, iccid)
    except errors.DomainError as exc:
        _raise_http(exc)
        raise
    if manage and not can(user, Capability.CARDS_MANAGE, card):
        raise PermissionDenied(str(_("Your role may look at this card but not change it.")))
    return card


def _single_enterprise(user) -> bool:
    return user.role == Role.ENTERPRISE_ADMIN and not user.is_superuser


# --- cards ----------------------------------------------------------------------


@login_required
@never_cache
@require_safe
def card_list(request):
    user = request.user
    form = forms.CardFilterForm(request.GET or None, user=user, single_enterprise=_single_enterprise(user))
    queryset = selectors.cards_visible_to(user).order_by("iccid")
    if form.is_bound:
        queryset = form.apply(queryset) if form.is_valid() else queryset.none()
    page = CappedPaginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "cards/card_list.html",
        {"form": form, "page_obj": page, "cards": page.object_list, "count_cap": COUNT_CAP},
    )


def _render_card_detail(request, card):
    user = request.user
    view = decision_view(card)
    may_change = can(user, Capability.CARDS_MANAGE, card)
    binding = selectors.live_binding(card)
    status_labels = dict(CardStatus.choices)
    events = [
        {
            "event": event,
            "label": event_label(event.action),
            "from_label": status_labels.get(event.from_status, event.from_status),
            "to_label": status_labels.get(event.to_status, event.to_status),
        }
        for event in selectors.card_events(card)[:HISTORY_LIMIT]
    ]
    businesses = {
        name: order_wizard_url(card, name)
        for name, (_type, _action, statuses) in BUSINESS_LINKS.items()
        if may_change and card.status in statuses
    }
    context = {
        "card": card,
        "decision": view,
        "binding": binding,
        "events": events,
        "may_change": may_change,
        "businesses": businesses,
        "can_register_user": (
            binding is None
            and card.status in LIVE_CARD_STATUSES
            and can(user, Capability.CARD_USERS_REGISTER, card.enterprise)
        ),
    }
    return render(request, "cards/card_detail.html", context)


@login_required
@never_cache
@require_safe
def card_detail(request, iccid):
    return _render_card_detail(request, _card(request.user, iccid))


# The former direct actions: a bookmarked link or a page still open from before gets the order wizard,
# pre-filled; nothing changes on the card.
LEGACY_ACTIONS = {"activate": "activate", "suspend": "suspend", "resume": "resume", "cancel": "cancel"}


@login_required
@never_cache
@require_POST
def card_action(request, iccid, action):
    if action not in LEGACY_ACTIONS:
        raise Http404(str(_("There is no such action.")))
    card = _card(request.user, iccid, manage=True)
    messages.info(request, MSG_THROUGH_AN_ORDER)
    return redirect(order_wizard_url(card, LEGACY_ACTIONS[action]))


@login_required
@never_cache
@require_form_methods
def card_services(request, iccid):
    card = _card(request.user, iccid, manage=True)
    messages.info(request, MSG_THROUGH_AN_ORDER)
    return redirect(order_wizard_url(card, "services"))


__all__ = [
    "card_action",
    "card_detail",
    "card_list",
    "card_services",
]
