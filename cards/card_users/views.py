"""Server-rendered pages for card users (U5, U6, C1): the list, registration, the detail with its
bindings, the throttled reveal of the ID number and the photos."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import (
    require_POST,
    require_safe,
)

from accounts.permissions import Capability, can, may_somewhere
from accounts.services import pii_view_log
from accounts.throttling import page_reveal_wait, reveal_wait_message
from cards.card_users import forms, selectors
from cards.card_users.api import card_user_photo_response
from cards.card_users.presentation import face_reasons_for_page, registration_status_body
from cards.card_users.serializers import FINAL_VERIFICATION_STATUSES, verification_status_body
from cards.card_users.services import (
    card_user_register,
    card_user_retake,
    card_user_send_to_review,
    live_card_count,
    one_id_card_limit,
)
from cards.decisions import current_language
from cards.inventory import selectors as card_selectors
from cards.inventory.pages import card_for_page
from cards.inventory.picker import with_picked_all
from cards.models import CardBinding, RegistrationStatus
from core import errors
from core.forms import add_domain_error
from core.http import camera_allowed, no_store, require_form_methods
from core.keyset import DateJump, Keyset, list_count
from core.pending_uploads import upload_owner
from core.search import clean_search, looks_like_id_number, shown_search, stash_search, stashed_search
from verification.capture import capture_page_context, live_photo_from_form
from verification.models import VerificationStatus

# A registration's card list prefilled from the URL: a handover's set (the phone flow allows at most five per
# ID, but the counter's own form says so itself); more is not a link anyone makes.
PREFILL_MAX_CARDS = 50

# --- card users ---------------------------------------------------------------------


def card_user_search(request) -> tuple[str, bool]:
    """The list's search and whether a search token expired: a name from `?q=`, or what was posted
    and kept under `?s=<token>` (an ID number never travels in a URL; core.search)."""
    token = request.GET.get("s")
    if token:
        value = stashed_search(request, token)
        return (value or "", value is None)
    return (clean_search(request.GET.get("q")), False)


# Newest first, on the index card_user_ent_created (enterprise, created_at DESC, id DESC).
CARD_USER_KEYSET = Keyset("card_users", ("-created_at", "-pk"), jump=DateJump())


def card_users_listed(user, value: str, *, expired: bool = False):
    """The card users the list shows with this search (see card_user_search): the page's and the export's."""
    queryset = selectors.card_users_visible_to(user)
    if expired:
        # An unknown or expired token finds nothing; it does not quietly list everyone instead.
        queryset = queryset.none()
    return selectors.search_card_users(queryset, value).order_by("-created_at", "-pk")


def with_live_cards(queryset):
    """Each card user's live cards, for the export (which reads every row anyway)."""
    return queryset.annotate(live_cards=Count("bindings", filter=Q(bindings__ended_at__isnull=True)))


def set_live_cards(card_users: list) -> None:
    """The live cards of the card users a page shows, in one query over their ids: a COUNT over the
    whole scope's bindings grew with the data (242 ms at a million cards, issue 12 §1.1)."""
    counts = dict(
        CardBinding.objects.filter(card_user_id__in=[c.pk for c in card_users], ended_at__isnull=True)
        .order_by()
        .values_list("card_user_id")
        .annotate(n=Count("pk"))
        .values_list("card_user_id", "n")
    )
    for card_user in card_users:
        card_user.live_cards = counts.get(card_user.pk, 0)


@login_required
@never_cache
@require_form_methods
def card_user_list(request):
    user = request.user
    if request.method == "POST":
        # The search box posts, so that a typed ID number stays out of the URL: it comes back as a token.
        value = clean_search(request.POST.get("q"))
        if not value:
            return redirect("cards:card_user_list")
        return redirect(f"{reverse('cards:card_user_list')}?{urlencode({'s': stash_search(request, value)})}")
    if looks_like_id_number(clean_search(request.GET.get("q"))):
        # A number that reached the query string anyway (a hand-made URL) is not searched for, and the page
        # that would echo its URL is not shown: searching would make such URLs work, and be copied.
        messages.info(request, _("Search an ID number with the search box: it is never put in the address."))
        return redirect("cards:card_user_list")
    value, expired = card_user_search(request)
    queryset = card_users_listed(user, value, expired=expired)
    page = CARD_USER_KEYSET.page(queryset, request.GET)
    set_live_cards(page.object_list)
    return render(
        request,
        "cards/card_user_list.html",
        {
            "page_obj": page,
            "card_users": page.object_list,
            "can_register": may_somewhere(user, Capability.CARD_USERS_REGISTER),
            "count": list_count(queryset),
            "search": value,
            "search_shown": shown_search(value),
            "search_expired": expired,
        },
    )


def _flash_registration_state(request, verification) -> None:
    """Say where the registration stands now: with eager tasks (no broker) the comparison has already run
    before the redirect, and may have passed, gone to a reviewer or refused the photo."""
    verification.refresh_from_db(fields=["status"])
    state = verification.status
    if state in (VerificationStatus.PASSED, VerificationStatus.APPROVED):
        messages.success(
            request, _("The card user is recorded and the face comparison passed. The page shows the cards bound.")
        )
    elif state == VerificationStatus.IN_REVIEW:
        messages.info(
            request,
            _(
                "The card user is recorded. The face comparison was not clear and waits for a reviewer; "
                "the cards are registered to the user once it is approved."
            ),
        )
    elif state == VerificationStatus.REJECTED:
        messages.warning(request, _("The card user is recorded, but the live photo could not be used."))
    elif state == VerificationStatus.MISMATCH:
        messages.warning(
            request, _("The card user is recorded, but the live photo does not match the ID photo: see below.")
        )
    elif state == VerificationStatus.DECLINED:
        messages.warning(request, _("The card user is recorded, but the face comparison did not pass."))
    else:
        messages.success(
            request,
            _(
                "The card user is recorded. The face comparison is running; the cards are registered "
                "to the user once it passes."
            ),
        )


# What the counter's capture says, move by move (static/js/liveness_capture.js shows them): the account
# manager holds the camera, the card user does the moves.
CAPTURE_LABELS = {
    "left": _("The card user turns their head slowly to the left"),
    "right": _("The card user turns their head slowly to the right"),
    "straight": _("The card user looks straight at the camera"),
    "get_ready": _("Get ready: the card user's face in the middle of the picture"),
    "captured": _("Captured. Register to send it with the form, or start again to retake it."),
    "uploading": _("Sending…"),
    "uploaded": _("Sent."),
    "upload_failed": _("Sending failed. Start the capture again."),
    "camera_denied": _("The camera cannot be used here. Take one photo below instead."),
}


@login_required
@never_cache
@require_form_methods
@camera_allowed  # the card user's live capture is taken here
def card_user_create(request):
    user = request.user
    if not may_somewhere(user, Capability.CARD_USERS_REGISTER):
        raise PermissionDenied(str(_("Your role may not register card users.")))
    status = 200
    if request.method == "POST":
        status = 400
        posted = with_picked_all(
            user, request.POST, field="iccids", purpose_name="card_user", enterprise_id=request.POST.get("enterprise")
        )
        form = forms.CardUserRegisterForm(posted, request.FILES, user=user, uploads_owner=upload_owner(request))
        if form.is_valid():
            data = form.cleaned_data
            enterprise = data["enterprise"]
            if not can(user, Capability.CARD_USERS_REGISTER, enterprise):
                raise PermissionDenied(str(_("Your role may not register card users for this enterprise.")))
            try:
                cards = card_selectors.enterprise_cards_for_user(user, enterprise, data["iccids"])
                verification = card_user_register(
                    actor=user,
                    enterprise=enterprise,
                    name=data["name"],
                    id_type=data["id_type"],
                    id_number=data["id_number"],
                    id_photo=data["id_photo"],
                    biometric_consent=data["biometric_consent"],
                    cards=cards,
                    # The person stands at this counter: a clear mismatch is said at once, with a retake.
                    retake_offered=True,
                    **live_photo_from_form(
                        frames=data["frames"],
                        challenge_token=data["challenge"],
                        timestamps=data["timestamps"],
                        photo=data["live_photo"],
                    ),
                )
            except errors.DomainError as exc:
                if isinstance(exc, errors.PAGE_ERRORS):
                    raise
                status = exc.status_code
                if exc.field == "cards":
                    form.add_error("iccids", exc.message)
                    form.keep_uploads()
                else:
                    add_domain_error(form, exc)
            else:
                form.uploads_used()
                _flash_registration_state(request, verification)
                return redirect("cards:card_user_detail", public_id=verification.card_user.public_id)
    else:
        initial = {}
        # ?card=... once or more (a handover taken back names all of its cards): one enterprise's cards.
        iccids = list(dict.fromkeys(value for value in request.GET.getlist("card")[:PREFILL_MAX_CARDS] if value))
        if iccids:
            cards = [card_for_page(user, iccid) for iccid in iccids]
            enterprise = cards[0].enterprise
            if not can(user, Capability.CARD_USERS_REGISTER, enterprise):
                raise PermissionDenied(str(_("Your role may not register card users for this enterprise.")))
            same = [card.iccid for card in cards if card.enterprise_id == enterprise.pk]
            initial = {"enterprise": enterprise.public_id, "iccids": "\n".join(same)}
        form = forms.CardUserRegisterForm(initial=initial, user=user)
    return render(
        request, "cards/card_user_create.html", {"form": form, **capture_page_context(CAPTURE_LABELS)}, status=status
    )


def _render_card_user(
    request, card_user, *, revealed: str | None = None, reveal_error=None, status: int = 200, retake_error=None
):
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
        "face_reasons": face_reasons_for_page(card_user, latest["status"]) if latest else [],
        "bindings": list(selectors.card_user_bindings(card_user)),
        "verifications": verifications,
        "latest": latest,
        # A mismatch waits for the counter, not for a result: nothing to poll.
        "latest_final": latest is None
        or latest["record"].status in FINAL_VERIFICATION_STATUSES
        or latest["record"].status == VerificationStatus.MISMATCH,
        "full_pii": can(user, Capability.VIEW_FULL_PII, card_user),
        "revealed": revealed,
        "reveal_error": reveal_error,
        "retake_error": retake_error,
        "can_retake": can(user, Capability.CARD_USERS_REGISTER, card_user.enterprise),
    }
    response = render(request, "cards/card_user_detail.html", context, status=status)
    no_store(response)
    return response


@login_required
@never_cache
@require_safe
def card_user_detail(request, public_id):
    card_user = selectors.card_user_for_user(request.user, public_id)
    if card_user.registration_status == RegistrationStatus.FACE_MISMATCH:
        # Only a clear mismatch's retake takes a live photo here (issue 11 §1.2): the camera stays denied on
        # every other state of the page.
        return camera_allowed(lambda request: _render_card_user(request, card_user))(request)
    return _render_card_user(request, card_user)


@login_required
@never_cache
@require_safe
def card_user_person(request, public_id):
    """One ID number is one person (issue 11 §1.3): every card this ID holds in the enterprises the viewer
    may see, and how many of its five slots are used across all of them (the count a bind checks)."""
    card_user = selectors.card_user_for_user(request.user, public_id)
    registrations = selectors.person_registrations(request.user, card_user)
    bindings = list(selectors.person_bindings(registrations))
    limit = one_id_card_limit()
    used = live_card_count(card_user.id_number_index, card_user.enterprise)
    visible_live = sum(1 for binding in bindings if binding.ended_at is None)
    response = render(
        request,
        "cards/card_user_person.html",
        {
            "card_user": card_user,
            "registrations": list(registrations.order_by("-created_at", "-pk")),
            "bindings": bindings,
            "slots_used": used,
            "slots_limit": limit,
            "slots_free": max(0, limit - used),
            # Live cards in enterprises this viewer cannot see: counted, never listed.
            "hidden_live": max(0, used - visible_live),
        },
    )
    no_store(response)
    return response


@login_required
@never_cache
@require_POST
@camera_allowed
def card_user_retake_page(request, public_id):
    """Issue 11 §1.2: a new live photo for a clear mismatch, taken while the person is at the counter."""
    card_user = selectors.card_user_for_user(request.user, public_id)
    try:
        verification = card_user_retake(
            actor=request.user, card_user=card_user, live_photo=request.FILES.get("live_photo")
        )
    except errors.DomainError as exc:
        if isinstance(exc, errors.PAGE_ERRORS):
            raise
        card_user.refresh_from_db()
        return _render_card_user(request, card_user, retake_error=exc.message, status=exc.status_code)
    _flash_registration_state(request, verification)
    return redirect("cards:card_user_detail", public_id=card_user.public_id)


@login_required
@never_cache
@require_POST
def card_user_send_to_review_page(request, public_id):
    """Issue 11 §1.2: the manager hands a clear mismatch to a reviewer instead of retaking it."""
    card_user = selectors.card_user_for_user(request.user, public_id)
    card_user_send_to_review(actor=request.user, card_user=card_user)  # a refusal: core.middleware's page
    messages.info(request, _("Sent to a reviewer: the cards are registered to the user once it is approved."))
    return redirect("cards:card_user_detail", public_id=card_user.public_id)


@login_required
@never_cache
@require_POST
def card_user_reveal(request, public_id):
    card_user = selectors.card_user_for_user(request.user, public_id)
    if not can(request.user, Capability.VIEW_FULL_PII, card_user):
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
    card_user = selectors.card_user_for_user(request.user, public_id)
    return card_user_photo_response(request, card_user, kind, as_attachment=False)


__all__ = [
    "card_user_create",
    "card_user_detail",
    "card_user_list",
    "card_user_person",
    "card_user_photo",
    "card_user_retake_page",
    "card_user_reveal",
    "card_user_send_to_review_page",
]
