"""Server-rendered pages for cards, the rule decision and card users (U0-U6, C1).

Views translate HTTP into service calls: objects come through cards.selectors
(scoped by role: invisible is 404), the per-action permission from
cards.policy (visible but not allowed is 403), writes go through
cards.services / cards.card_users, and domain errors become form errors or
alerts. No personal number is ever put in a URL.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import (
    require_http_methods,
    require_POST,
    require_safe,
)

from accounts.access import can_view_full_pii
from accounts.roles import Role
from accounts.services import pii_view_log
from accounts.throttling import page_reveal_wait, reveal_wait_message
from cards import forms, policy, selectors, services
from cards.api import card_user_photo_response
from cards.card_users import card_user_register
from cards.errors import RealnameRequired
from cards.models import LIVE_CARD_STATUSES, CardStatus
from cards.presentation import current_language, decision_view, exemption_text, registration_status_body
from cards.serializers import (
    FINAL_VERIFICATION_STATUSES,
    event_label,
    verification_status_body,
)
from core import errors
from core.forms import add_domain_error
from core.http import camera_allowed, no_store

PAGE_SIZE = 25
COUNT_CAP = 10_000
HISTORY_LIMIT = 100

require_form_methods = require_http_methods(["GET", "HEAD", "POST"])

ACTIONS = {
    "activate": (services.card_activate, _("The card is active.")),
    "suspend": (services.card_suspend, _("The card is suspended.")),
    "resume": (services.card_resume, _("The card is active again.")),
    "cancel": (services.card_cancel, _("The card is cancelled. Its card user's slot is free again.")),
}
ACTION_STATUSES = {
    "activate": {CardStatus.IN_STOCK, CardStatus.AWAITING_REALNAME},
    "suspend": {CardStatus.ACTIVE},
    "resume": {CardStatus.SUSPENDED},
    "cancel": set(LIVE_CARD_STATUSES),
}


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
    if manage and not policy.can_manage_card(user, card):
        raise PermissionDenied(str(_("Your role may look at this card but not change it.")))
    return card


def _card_user(user, public_id):
    try:
        return selectors.card_user_for_user(user, public_id)
    except errors.DomainError as exc:
        _raise_http(exc)
        raise


def _single_enterprise(user) -> bool:
    return user.role == Role.ENTERPRISE_ADMIN and not user.is_superuser


def refusal_context(exc: RealnameRequired) -> dict:
    language = current_language()
    decision = exc.decision
    return {
        "message": exc.message,
        "rules": [{"rule": r.rule, "text": r.text(language)} for r in decision.reasons],
        "exemption_text": exemption_text(decision),
        "no_exemption_possible": decision.exemption is not None and decision.exemption.value == "none_possible",
    }


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


def _render_card_detail(request, card, *, refusal=None, error=None, status: int = 200):
    user = request.user
    view = decision_view(card)
    can_manage = policy.can_manage_card(user, card)
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
    actions = [name for name, allowed in ACTION_STATUSES.items() if can_manage and card.status in allowed]
    context = {
        "card": card,
        "decision": view,
        "binding": binding,
        "events": events,
        "can_manage": can_manage,
        "actions": actions,
        "is_live": card.status in LIVE_CARD_STATUSES,
        "can_register_user": (
            binding is None
            and card.status in LIVE_CARD_STATUSES
            and policy.can_register_card_user(user, card.enterprise)
        ),
        "refusal": refusal,
        "error": error,
    }
    return render(request, "cards/card_detail.html", context, status=status)


@login_required
@never_cache
@require_safe
def card_detail(request, iccid):
    return _render_card_detail(request, _card(request.user, iccid))


@login_required
@never_cache
@require_POST
def card_action(request, iccid, action):
    if action not in ACTIONS:
        raise Http404(str(_("There is no such action.")))
    card = _card(request.user, iccid, manage=True)
    service, done = ACTIONS[action]
    try:
        service(actor=request.user, card=card)
    except RealnameRequired as exc:
        card = _card(request.user, iccid)
        return _render_card_detail(request, card, refusal=refusal_context(exc), status=409)
    except errors.DomainError as exc:
        _raise_http(exc)
        card = _card(request.user, iccid)
        return _render_card_detail(request, card, error=exc.message, status=exc.status_code)
    messages.success(request, done)
    return redirect("cards:detail", iccid=card.iccid)


@login_required
@never_cache
@require_form_methods
def card_services(request, iccid):
    card = _card(request.user, iccid, manage=True)
    refusal = None
    status = 200
    if request.method == "POST":
        form = forms.CardServicesForm(request.POST, card=card)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.card_change_services(
                    actor=request.user, card=card, data=data["data"], voice=data["voice"], sms=data["sms"],
                    package=data["package"],
                )
            except RealnameRequired as exc:
                refusal = refusal_context(exc)
                status = 409
            except errors.DomainError as exc:
                _raise_http(exc)
                add_domain_error(form, exc)
                status = exc.status_code
            else:
                messages.success(request, _("The services and package were changed."))
                return redirect("cards:detail", iccid=card.iccid)
        else:
            status = 400
    else:
        form = forms.CardServicesForm(card=card)
    return render(
        request, "cards/card_services.html", {"form": form, "card": card, "refusal": refusal}, status=status
    )


# --- card users ---------------------------------------------------------------------


@login_required
@never_cache
@require_safe
def card_user_list(request):
    user = request.user
    queryset = (
        selectors.card_users_visible_to(user)
        .annotate(live_cards=Count("bindings", filter=Q(bindings__ended_at__isnull=True)))
        .order_by("-created_at", "-pk")
    )
    page = CappedPaginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "cards/card_user_list.html",
        {
            "page_obj": page,
            "card_users": page.object_list,
            "can_register": policy.may_manage_cards_somewhere(user),
            "count_cap": COUNT_CAP,
        },
    )


@login_required
@never_cache
@require_form_methods
@camera_allowed  # the card user's live photo is taken here
def card_user_create(request):
    user = request.user
    if not policy.may_manage_cards_somewhere(user):
        raise PermissionDenied(str(_("Your role may not register card users.")))
    status = 200
    if request.method == "POST":
        status = 400
        form = forms.CardUserRegisterForm(request.POST, request.FILES, user=user)
        if form.is_valid():
            data = form.cleaned_data
            enterprise = data["enterprise"]
            if not policy.can_register_card_user(user, enterprise):
                raise PermissionDenied(str(_("Your role may not register card users for this enterprise.")))
            try:
                verification = card_user_register(
                    actor=user,
                    enterprise=enterprise,
                    name=data["name"],
                    id_type=data["id_type"],
                    id_number=data["id_number"],
                    id_photo=data["id_photo"],
                    live_photo=data["live_photo"],
                    biometric_consent=data["biometric_consent"],
                    cards=selectors.enterprise_cards_for_user(user, enterprise, data["iccids"]),
                )
            except errors.DomainError as exc:
                _raise_http(exc)
                status = exc.status_code
                if exc.field == "cards":
                    form.add_error("iccids", exc.message)
                else:
                    add_domain_error(form, exc)
            else:
                messages.success(
                    request,
                    _("The card user is recorded. The face comparison is running; the cards are registered "
                      "to the user once it passes."),
                )
                return redirect("cards:card_user_detail", public_id=verification.card_user.public_id)
    else:
        initial = {}
        iccid = request.GET.get("card", "")
        if iccid:
            card = _card(user, iccid)
            if not policy.can_register_card_user(user, card.enterprise):
                raise PermissionDenied(str(_("Your role may not register card users for this enterprise.")))
            initial = {"enterprise": card.enterprise.public_id, "iccids": card.iccid}
        form = forms.CardUserRegisterForm(initial=initial, user=user)
    return render(request, "cards/card_user_create.html", {"form": form}, status=status)


def _render_card_user(request, card_user, *, revealed: str | None = None, reveal_error=None, status: int = 200):
    user = request.user
    language = current_language()
    verifications = [
        {"record": v, "status": verification_status_body(v, language)}
        for v in card_user.verifications.order_by("-created_at")[:20]
    ]
    latest = verifications[0] if verifications else None
    context = {
        "card_user": card_user,
        "registration": registration_status_body(card_user, latest["record"] if latest else None),
        "bindings": list(selectors.card_user_bindings(card_user)),
        "verifications": verifications,
        "latest": latest,
        "latest_final": latest is None or latest["record"].status in FINAL_VERIFICATION_STATUSES,
        "can_view_full_pii": can_view_full_pii(user),
        "can_view_photos": policy.can_view_card_user_photos(user, card_user),
        "revealed": revealed,
        "reveal_error": reveal_error,
    }
    response = render(request, "cards/card_user_detail.html", context, status=status)
    no_store(response)
    return response


@login_required
@never_cache
@require_safe
def card_user_detail(request, public_id):
    return _render_card_user(request, _card_user(request.user, public_id))


@login_required
@never_cache
@require_POST
def card_user_reveal(request, public_id):
    card_user = _card_user(request.user, public_id)
    if not can_view_full_pii(request.user):
        raise PermissionDenied(str(_("You do not have the permission to view personal data in full.")))
    wait = page_reveal_wait(request)
    if wait is not None:
        response = _render_card_user(request, card_user, reveal_error=reveal_wait_message(wait), status=429)
        response["Retry-After"] = str(wait)
        return response
    pii_view_log(actor=request.user, obj=card_user, field="id_number", request=request)
    return _render_card_user(request, card_user, revealed=card_user.id_number)


@login_required
@never_cache
@require_safe
def card_user_photo(request, public_id, kind):
    card_user = _card_user(request.user, public_id)
    try:
        return card_user_photo_response(request, card_user, kind, as_attachment=False)
    except errors.DomainError as exc:
        _raise_http(exc)
        raise


__all__ = [
    "card_action",
    "card_detail",
    "card_list",
    "card_services",
    "card_user_create",
    "card_user_detail",
    "card_user_list",
    "card_user_photo",
    "card_user_reveal",
]
