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
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from accounts.permissions import Capability, can
from accounts.roles import Role
from cards.inventory import forms, selectors
from cards.inventory.pages import card_for_page
from cards.inventory.presentation import decision_view
from cards.inventory.serializers import event_label
from cards.models import BUSINESSES, LIVE_CARD_STATUSES, RESUME, SUSPEND, BusinessType, CardStatus
from core.http import require_form_methods
from core.keyset import Keyset, TextJump, list_count

MSG_THROUGH_AN_ORDER = _(
    "Every business on a card is done through an order that records its handler (rule H2). "
    "The order is pre-filled for this card: continue with the handler."
)
HISTORY_LIMIT = 100

# H2: every business on a card is an order with its handler. The card page's buttons open the order
# wizard pre-filled with the business (and, for suspend/resume, the action); a button shows in the card
# states the business (or its action) starts from (cards.models.BUSINESSES; checked again when filed).
BUSINESS_LINKS = {
    "activate": (BusinessType.NEW_INSTALLATION, None),
    "suspend": (BusinessType.SUSPEND_RESUME, SUSPEND),
    "resume": (BusinessType.SUSPEND_RESUME, RESUME),
    "services": (BusinessType.SERVICE_CHANGE, None),
    "transfer": (BusinessType.OWNERSHIP_TRANSFER, None),
    "replace": (BusinessType.CARD_REPLACEMENT, None),
    "supplementary": (BusinessType.SUPPLEMENTARY_REGISTRATION, None),
    "cancel": (BusinessType.CANCELLATION, None),
}


def _link_statuses(business_type: str, action: str | None) -> frozenset[str]:
    business = BUSINESSES[business_type]
    return business.actions[action] if action else business.card_statuses


def order_wizard_url(card, name: str) -> str:
    """The order wizard's first step, pre-filled for this card and business."""
    business_type, action = BUSINESS_LINKS[name]
    query = {
        "business_type": str(business_type.value),
        "enterprise": str(card.enterprise.public_id),
        "cards": card.iccid,
    }
    if action:
        query["action"] = action
    return f"{reverse('orders:new')}?{urlencode(query)}"


def _single_enterprise(user) -> bool:
    return user.role == Role.ENTERPRISE_ADMIN and not user.is_superuser


# --- cards ----------------------------------------------------------------------

# The ICCID is unique and indexed alone and after the enterprise (card_enterprise_iccid), so it is the
# whole keyset; the jump goes to the first card at or after the ICCID typed, within the filters.
CARD_KEYSET = Keyset("cards", ("iccid",), jump=TextJump())


def cards_listed(user, params):
    """The cards the list shows for these GET parameters, and its filter form: the page's and the export's."""
    form = forms.CardFilterForm(params or None, user=user, single_enterprise=_single_enterprise(user))
    queryset = selectors.cards_visible_to(user).order_by("iccid")
    if form.is_bound:
        queryset = form.apply(queryset) if form.is_valid() else queryset.none()
    return queryset, form


@login_required
@never_cache
@require_safe
def card_list(request):
    queryset, form = cards_listed(request.user, request.GET)
    # The list shows the enterprise's name only: without the defer every row decrypted its credential
    # number (25 Fernet decryptions a page, found by the scale benchmark's profile).
    page = CARD_KEYSET.page(queryset.defer("enterprise__credential_number"), request.GET)
    return render(
        request,
        "cards/card_list.html",
        {"form": form, "page_obj": page, "cards": _with_page_urls(page.object_list), "count": list_count(queryset)},
    )


def _with_page_urls(cards) -> list:
    """The cards, each with `page_url`, its card page. The URL is reversed once for the whole page: reversed
    for each of the 25 rows it was a twentieth of the list's rendering (issue 12 §2). An ICCID is digits only
    (the iccid converter), so it goes into the path as it is."""
    marker = "0"
    prefix, _marker, suffix = reverse("cards:detail", args=[marker]).rpartition(marker)
    cards = list(cards)
    for card in cards:
        card.page_url = f"{prefix}{card.iccid}{suffix}"
    return cards


def _exemption_url(user, card, view) -> str:
    """The exemption form with this card chosen, where an exemption is possible and the user may file one.

    A card already in a request that awaits a decision is refused there, with the reason
    (approvals.services.exemption_file): that table is a floor above the cards.
    """
    if not (
        view.exemption_possible
        and card.status in LIVE_CARD_STATUSES
        and card.status != CardStatus.ACTIVE
        and can(user, Capability.EXEMPTIONS_FILE, card.enterprise)
    ):
        return ""
    query = urlencode({"enterprise": str(card.enterprise.public_id), "q": card.iccid, "cards": card.iccid})
    return f"{reverse('approvals:exemption_new')}?{query}"


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
        for name, (business_type, action) in BUSINESS_LINKS.items()
        if may_change and card.status in _link_statuses(business_type, action)
    }
    context = {
        "card": card,
        "decision": view,
        "exemption_url": _exemption_url(user, card, view),
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
    return _render_card_detail(request, card_for_page(request.user, iccid))


# The former direct actions: a bookmarked link or a page still open from before gets the order wizard,
# pre-filled; nothing changes on the card.
LEGACY_ACTIONS = {"activate": "activate", "suspend": "suspend", "resume": "resume", "cancel": "cancel"}


@login_required
@never_cache
@require_POST
def card_action(request, iccid, action):
    if action not in LEGACY_ACTIONS:
        raise Http404(str(_("There is no such action.")))
    card = card_for_page(request.user, iccid, manage=True)
    messages.info(request, MSG_THROUGH_AN_ORDER)
    return redirect(order_wizard_url(card, LEGACY_ACTIONS[action]))


@login_required
@never_cache
@require_form_methods
def card_services(request, iccid):
    card = card_for_page(request.user, iccid, manage=True)
    messages.info(request, MSG_THROUGH_AN_ORDER)
    return redirect(order_wizard_url(card, "services"))


__all__ = [
    "card_action",
    "card_detail",
    "card_list",
    "card_services",
]
