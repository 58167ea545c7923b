"""Order pages: the step-by-step order wizard, the order list and the order page.

The wizard asks only for what the rules need:
1. the business, the enterprise and the cards;
2. the handler's ID document: a returning handler is found by its blind index
   within the enterprise (H1) and is not typed again;
3. what is still missing (a new handler's name and address), the photos (the
   handler's ID photo always; the live photo where H3 applies; optional fresh
   enterprise photos, E2/P3), the business parameters, a review, and submit.

Step data is kept server-side in the session; the handler's ID number is
kept there encrypted (accounts.pii.encrypt) and never goes into a URL, a
hidden field or a page in the clear. Files cannot travel between steps, so
every photo input is on the last step, the one that submits.
"""

from __future__ import annotations

import os

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from accounts.permissions import Capability, can
from accounts.pii import decrypt, encrypt, mask_identifier
from accounts.reveals import personal_file_response
from cards.inventory.picker import with_picked_all
from cards.models import BUSINESSES, LIVE_CARD_STATUSES, BusinessType, CardBinding, OrderStatus
from cards.orders import policy as order_policy
from cards.orders import selectors, services
from cards.orders.forms import HandlerLookupForm, LivePhotoRetakeForm, OrderDetailsForm, OrderFilterForm, OrderStartForm
from cards.orders.handlers import HandlerData, handler_find, handler_identity
from cards.orders.selectors import orders_visible_to, search_orders
from core import errors
from core.forms import add_domain_error
from core.http import camera_allowed, no_store, require_form_methods
from core.identity import PersonalIdType
from core.keyset import DateJump, Keyset, list_count
from core.pending_uploads import upload_owner
from verification.capture import capture_page_context, live_photo_from_form
from verification.models import VerificationStatus
from verification.services import retake_limit

SESSION_KEY = "order_wizard"
PHOTO_FIELDS = {"id": "handler_id_photo", "live": "handler_live_photo"}
# The actions a link from the card page may pre-select (cards.inventory.views.BUSINESS_LINKS).
SUSPEND_RESUME_ACTIONS = BUSINESSES[BusinessType.SUSPEND_RESUME].actions

OUTCOME_LABELS = {
    "activated": _("Activated"),
    "awaiting_realname": _("Awaiting the card user's real-name (U5)"),
    "activated_after_realname": _("Activated once the card user's real-name was complete (U5)"),
    "transferred": _("Transferred"),
    "replaced": _("Replaced: new ICCID"),
    "services_changed": _("Services changed"),
    "suspended": _("Suspended"),
    "resumed": _("Resumed"),
    "cancelled": _("Cancelled"),
    "registered": _("Handler and documents recorded"),
}


# --- helpers ------------------------------------------------------------------


def _require_filer(user) -> None:
    if not order_policy.order_enterprises_for(user).exists():
        raise PermissionDenied(str(order_policy.PermissionText.CREATE))


def _wizard(request) -> dict:
    data = request.session.get(SESSION_KEY)
    return data if isinstance(data, dict) else {}


def _save_wizard(request, data: dict) -> None:
    request.session[SESSION_KEY] = data
    request.session.modified = True


def _clear_wizard(request) -> None:
    request.session.pop(SESSION_KEY, None)


class _Restart(Exception):
    """The wizard's stored steps no longer hold: start again at step 1 (or 2)."""

    def __init__(self, message, step: str = "orders:new"):
        super().__init__(str(message))
        self.message = message
        self.step = step


def _restart(request, exc: _Restart):
    messages.warning(request, exc.message)
    return redirect(exc.step)


def _step1(request) -> tuple[dict, object, list]:
    """The wizard's step 1 as stored, re-checked now: (data, enterprise, cards)."""
    data = _wizard(request)
    if not data.get("enterprise") or not data.get("business_type"):
        raise _Restart(_("Start with the business, the enterprise and the cards."))
    enterprise = order_policy.order_enterprises_for(request.user).filter(public_id=data["enterprise"]).first()
    if enterprise is None:
        _clear_wizard(request)
        raise _Restart(_("The enterprise is no longer available to you. Start again."))
    try:
        cards = services.order_resolve_cards(
            enterprise=enterprise, business_type=data["business_type"], cards=data.get("iccids", [])
        )
    except errors.DomainError as exc:
        raise _Restart(exc.message) from exc
    return data, enterprise, cards


def _handler_step(request, data: dict, enterprise):
    """The handler's stored ID document: (identity, the returning handler or None)."""
    stored = data.get("handler")
    if not isinstance(stored, dict) or not stored.get("id_number"):
        raise _Restart(_("Enter the handler's ID document first."), step="orders:new_handler")
    try:
        identity = handler_identity(id_type=stored.get("id_type", ""), id_number=decrypt(stored["id_number"]))
    except Exception as exc:  # noqa: BLE001 - an unreadable session value: ask again
        raise _Restart(_("Enter the handler's ID document again."), step="orders:new_handler") from exc
    return identity, handler_find(enterprise=enterprise, identity=identity)


def _summary(data: dict, enterprise, cards) -> dict:
    business = BUSINESSES[data["business_type"]]
    return {
        "business_type": data["business_type"],
        "business_label": business.label,
        "gated": business.face_gated,
        "enterprise": enterprise,
        "cards": cards,
    }


def _handover_iccids(user, enterprise, cards) -> list[str]:
    """The wizard's cards the card user may register on their own phone (C1 handover, issue 9 §4): live
    cards without a registered user, when this user may register card users for the enterprise."""
    if not can(user, Capability.CARD_USERS_REGISTER, enterprise):
        return []
    bound = set(CardBinding.objects.filter(card__in=cards, ended_at__isnull=True).values_list("card__iccid", flat=True))
    return [card.iccid for card in cards if card.status in LIVE_CARD_STATUSES and card.iccid not in bound]


# --- step 1: business, enterprise, cards -----------------------------------------------


@login_required
@never_cache
@require_form_methods
@camera_allowed  # the card picker's barcode scan
def order_new(request):
    user = request.user
    _require_filer(user)
    enterprises = order_policy.order_enterprises_for(user)
    if request.method == "POST":
        posted = with_picked_all(
            user,
            request.POST,
            field="cards",
            purpose_name="order",
            enterprise_id=request.POST.get("enterprise"),
            context={"business_type": request.POST.get("business_type", "")},
        )
        form = OrderStartForm(posted, enterprises=enterprises)
        if form.is_valid():
            enterprise = form.cleaned_data["enterprise"]
            business_type = form.cleaned_data["business_type"]
            try:
                cards = services.order_resolve_cards(
                    enterprise=enterprise, business_type=business_type, cards=form.cleaned_data["cards"]
                )
            except errors.DomainError as exc:
                add_domain_error(form, exc)
            else:
                previous = _wizard(request)
                data = {
                    "business_type": business_type,
                    "enterprise": str(enterprise.public_id),
                    "iccids": [card.iccid for card in cards],
                }
                if previous.get("enterprise") == data["enterprise"] and previous.get("handler"):
                    data["handler"] = previous["handler"]  # same enterprise: the handler still holds
                if form.cleaned_data.get("action") and BUSINESSES[business_type].actions:
                    data["action"] = form.cleaned_data["action"]
                _save_wizard(request, data)
                return redirect("orders:new_handler")
    else:
        data = _wizard(request)
        initial = {
            "business_type": request.GET.get("business_type") or data.get("business_type"),
            "enterprise": request.GET.get("enterprise") or data.get("enterprise"),
            "cards": request.GET.get("cards") or "\n".join(data.get("iccids", [])),
            "action": next(
                (a for a in (request.GET.get("action"), data.get("action")) if a in SUSPEND_RESUME_ACTIONS), ""
            ),
        }
        form = OrderStartForm(initial=initial, enterprises=enterprises)
    return render(request, "cards/order_start.html", {"form": form, "step": 1})


# --- step 2: the handler's ID document -------------------------------------------------


@login_required
@never_cache
@require_form_methods
def order_new_handler(request):
    _require_filer(request.user)
    try:
        data, enterprise, cards = _step1(request)
    except _Restart as exc:
        return _restart(request, exc)
    form = HandlerLookupForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            identity = handler_identity(
                id_type=form.cleaned_data["handler_id_type"], id_number=form.cleaned_data["handler_id_number"]
            )
        except errors.DomainError as exc:
            add_domain_error(form, exc)
        else:
            # Kept encrypted in the session, never in the page or the URL.
            data["handler"] = {"id_type": identity.id_type, "id_number": encrypt(identity.id_number)}
            _save_wizard(request, data)
            return redirect("orders:new_details")
    known = None
    if data.get("handler"):
        try:
            identity, known = _handler_step(request, data, enterprise)
        except _Restart:
            identity = None
        else:
            known = {"handler": known, "masked": mask_identifier(identity.id_number)}
    context = {
        "form": form,
        "step": 2,
        "known": known,
        "handover_iccids": _handover_iccids(request.user, enterprise, cards),
        **_summary(data, enterprise, cards),
    }
    return render(request, "cards/order_handler.html", context)


# --- step 3: what is still needed, review, submit --------------------------------------

# What the handler's capture says, move by move (static/js/liveness_capture.js shows them, H3).
CAPTURE_LABELS = {
    "left": _("The handler turns their head slowly to the left"),
    "right": _("The handler turns their head slowly to the right"),
    "straight": _("The handler looks straight at the camera"),
    "get_ready": _("Get ready: the handler's face in the middle of the picture"),
    "captured": _("Captured. Submit to send it with the order, or start again to retake it."),
    "uploading": _("Sending…"),
    "uploaded": _("Sent."),
    "upload_failed": _("Sending failed. Start the capture again."),
    "camera_denied": _("The camera cannot be used here. Take one photo below instead."),
}


def _handler_live_photo(form: OrderDetailsForm) -> dict:
    """The handler's live photo for order_create: where H3 applies, through the one live-capture check
    (a fallback photo goes to a reviewer); elsewhere the optional photo, stored without a comparison."""
    cleaned = form.cleaned_data
    if not form.gated:
        return {"handler_live_photo": cleaned.get("handler_live_photo")}
    live = live_photo_from_form(
        frames=cleaned.get("frames") or [],
        challenge_token=cleaned.get("challenge", ""),
        timestamps=cleaned.get("timestamps", ""),
        photo=cleaned.get("handler_live_photo"),
    )
    return {"handler_live_photo": live.pop("live_photo"), **live}


@login_required
@never_cache
@require_form_methods
@camera_allowed  # the handler's live photo is taken on this step (H3)
def order_new_details(request):
    user = request.user
    _require_filer(user)
    try:
        data, enterprise, cards = _step1(request)
        identity, existing = _handler_step(request, data, enterprise)
    except _Restart as exc:
        return _restart(request, exc)
    form_kwargs = dict(
        business_type=data["business_type"],
        enterprise=enterprise,
        cards=cards,
        returning_handler=existing is not None,
        user=user,
        fresh_documents_required=order_policy.order_needs_fresh_documents(enterprise),
    )
    refusal = None
    if request.method == "POST":
        form = OrderDetailsForm(request.POST, request.FILES, uploads_owner=upload_owner(request), **form_kwargs)
        if form.is_valid():
            cleaned = form.cleaned_data
            try:
                order = services.order_create(
                    actor=user,
                    enterprise=enterprise,
                    business_type=data["business_type"],
                    cards=cards,
                    handler=HandlerData(
                        id_type=identity.id_type,
                        id_number=identity.id_number,
                        name=cleaned.get("handler_name", ""),
                        id_address=cleaned.get("handler_id_address", ""),
                    ),
                    handler_id_photo=cleaned["handler_id_photo"],
                    parameters=form.parameters(),
                    credential_photo=cleaned.get("credential_photo"),
                    responsible_id_photo=cleaned.get("responsible_id_photo"),
                    # The handler stands at the counter: a clear mismatch may be retaken there (issue 11 §1.2).
                    retake_offered=True,
                    **_handler_live_photo(form),
                )
            except errors.DomainError as exc:
                add_domain_error(form, exc)
                # A refusal by the rules (RealnameRequired) carries its decision: the page explains it.
                refusal = exc if "decision" in exc.extra else None
            else:
                form.uploads_used()
                _clear_wizard(request)
                _flash_order_state(
                    request,
                    order,
                    pending=_("Order %(number)s was filed. It completes once the handler's face comparison passes."),
                )
                return redirect("orders:detail", public_id=order.public_id)
    else:
        initial = {"action": data["action"]} if data.get("action") else {}
        form = OrderDetailsForm(initial=initial, **form_kwargs)
    context = {
        "form": form,
        "step": 3,
        "handler": existing,
        "handler_masked": mask_identifier(identity.id_number),
        "handler_id_type_label": PersonalIdType(identity.id_type).label,
        "parameter_fields": [form[name] for name in form.parameter_field_names()],
        "refusal": refusal,
        "handover_iccids": _handover_iccids(user, enterprise, cards),
        **_summary(data, enterprise, cards),
        **(capture_page_context(CAPTURE_LABELS) if form.gated else {}),
    }
    return render(request, "cards/order_details.html", context)


@login_required
@require_POST
def order_new_cancel(request):
    _clear_wizard(request)
    messages.info(request, _("The order was not filed; what you entered has been discarded."))
    return redirect("orders:list")


# --- list and detail -------------------------------------------------------------------


# Newest first, on the index order_ent_created (enterprise, created_at DESC, id DESC).
ORDER_KEYSET = Keyset("orders", ("-created_at", "-pk"), jump=DateJump())


def orders_listed(user, params):
    """The orders the list shows for these GET parameters, and its filter form: the page's and the export's."""
    filters = OrderFilterForm(params, user=user)
    queryset = orders_visible_to(user).order_by("-created_at", "-pk")
    if filters.is_valid():
        for name in ("status", "business_type"):
            if filters.cleaned_data[name]:
                queryset = queryset.filter(**{name: filters.cleaned_data[name]})
        if filters.cleaned_data.get("enterprise"):
            queryset = queryset.filter(enterprise_id=filters.cleaned_data["enterprise"].pk)
        queryset = search_orders(queryset, filters.cleaned_data["q"])
    elif filters.has_error("enterprise"):
        queryset = queryset.none()  # a name that matched none or several: the form says which
    return queryset, filters


def with_card_counts(queryset):
    """Each order's cards, for the export (which reads every row anyway)."""
    return queryset.annotate(card_count=Count("cards"))


@login_required
@never_cache
@require_safe
def order_list(request):
    user = request.user
    queryset, filters = orders_listed(user, request.GET)
    page = ORDER_KEYSET.page(queryset, request.GET)
    selectors.set_card_counts(page.object_list)
    return render(
        request,
        "cards/order_list.html",
        {
            "filters": filters,
            "page_obj": page,
            "orders": page.object_list,
            "count": list_count(queryset),
            "can_file": order_policy.order_enterprises_for(user).exists(),
        },
    )


def _flash_order_state(request, order, *, pending) -> None:
    """Say where the order stands now, not where it was headed: with eager tasks (no broker) the comparison
    has already run, and may have gone to a reviewer or refused the photo, before the page redirects."""
    order.refresh_from_db(fields=["status"])
    number = {"number": order.number}
    if order.status == OrderStatus.COMPLETED:
        messages.success(request, _("Order %(number)s was completed.") % number)
        return
    if order.status == OrderStatus.REJECTED:
        messages.warning(request, _("Order %(number)s was rejected; the order page says why.") % number)
        return
    verification = selectors.order_latest_verification(order)
    state = verification.status if verification is not None else VerificationStatus.PENDING
    if state == VerificationStatus.IN_REVIEW:
        messages.info(
            request,
            _(
                "Order %(number)s waits for a reviewer: the handler's face comparison was not clear. "
                "It completes once the reviewer approves it."
            )
            % number,
        )
    elif state == VerificationStatus.REJECTED:
        messages.warning(
            request, _("Order %(number)s is not complete: the handler's live photo could not be used.") % number
        )
    else:
        messages.success(request, pending % number)


def _render_detail(request, order, *, retake_form=None, status: int = 200):
    user = request.user
    verification = selectors.order_latest_verification(order)
    lines = [
        {"line": line, "outcome_label": OUTCOME_LABELS.get(line.outcome, line.outcome)}
        for line in selectors.order_lines(order)
    ]
    can_change = can(user, Capability.ORDERS_FILE, order.enterprise)
    comparison = verification.status if verification is not None else None
    waiting = can_change and order.status == OrderStatus.AWAITING_VERIFICATION
    mismatch = bool(waiting and comparison == VerificationStatus.MISMATCH)
    retakes_left = max(0, retake_limit() - verification.retakes) if mismatch and verification is not None else 0
    can_retake = bool(waiting and comparison == VerificationStatus.REJECTED) or retakes_left > 0
    context = {
        "order": order,
        "handler": order.handler,
        "lines": lines,
        "verification": verification,
        "can_retake": can_retake,
        # Issue 11 §1.2: a clear mismatch while the handler is still there: retake, or send to a reviewer.
        "mismatch": mismatch,
        "retakes_left": retakes_left,
        "retake_form": retake_form or (LivePhotoRetakeForm() if can_retake else None),
        "can_view_photos": can(user, Capability.ENTERPRISE_FILES_OPEN, order),
        # While the comparison runs or waits for a reviewer; a photo refused as unusable waits for a retake.
        "polling": order.status == OrderStatus.AWAITING_VERIFICATION
        and not (
            verification is not None
            and verification.status in (VerificationStatus.REJECTED, VerificationStatus.MISMATCH)
        ),
    }
    response = render(request, "cards/order_detail.html", context, status=status)
    no_store(response)
    return response


@login_required
@never_cache
@require_safe
@camera_allowed  # a declined comparison's live photo is retaken here
def order_detail(request, public_id):
    return _render_detail(request, selectors.order_for_user(request.user, public_id))


@login_required
@never_cache
@require_POST
@camera_allowed
def order_retake(request, public_id):
    user = request.user
    order = selectors.order_for_user(user, public_id)
    if not can(user, Capability.ORDERS_FILE, order.enterprise):
        raise PermissionDenied(str(order_policy.PermissionText.CHANGE))
    form = LivePhotoRetakeForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.order_retake_live_photo(
                actor=user, order=order, handler_live_photo=form.cleaned_data["handler_live_photo"]
            )
        except errors.DomainError as exc:
            add_domain_error(form, exc)
        else:
            _flash_order_state(
                request, order, pending=_("The new live photo is being compared with the handler's ID photo.")
            )
            return redirect("orders:detail", public_id=order.public_id)
    return _render_detail(request, order, retake_form=form, status=400)


@login_required
@never_cache
@require_POST
def order_send_to_review(request, public_id):
    """The manager sends the handler's clear mismatch to a reviewer instead of retaking (issue 11 §1.2)."""
    user = request.user
    order = selectors.order_for_user(user, public_id)
    if not can(user, Capability.ORDERS_FILE, order.enterprise):
        raise PermissionDenied(str(order_policy.PermissionText.CHANGE))
    try:
        services.order_send_to_review(actor=user, order=order)
    except errors.DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The comparison is sent to a reviewer; the order waits for the decision."))
    return redirect("orders:detail", public_id=order.public_id)


@login_required
@require_safe
def order_photo(request, public_id, kind):
    user = request.user
    order = selectors.order_for_user(user, public_id)
    field = PHOTO_FIELDS.get(kind)
    if field is None:
        raise Http404(str(_("There is no such photo.")))
    # The handler's photos are the enterprise's files: its own admin, who took them, opens them too.
    if not can(user, Capability.ENTERPRISE_FILES_OPEN, order):
        raise PermissionDenied(str(_("Your role may not open photos that show personal data.")))
    photo = getattr(order, field)
    if not photo:
        raise Http404(str(_("There is no such photo.")))
    extension = os.path.splitext(photo.name)[1].lower()
    content_type = {".png": "image/png", ".webp": "image/webp"}.get(extension, "image/jpeg")
    return personal_file_response(
        request,
        obj=order,
        field=field,
        field_file=photo,
        content_type=content_type,
        filename=f"order-{kind}{extension}",
        as_attachment=False,
    )


__all__ = [
    "order_detail",
    "order_list",
    "order_new",
    "order_new_cancel",
    "order_new_details",
    "order_new_handler",
    "order_photo",
    "order_retake",
]
