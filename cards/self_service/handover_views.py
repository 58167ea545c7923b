"""The counter's side of a handover (C1, issue 9 §4): the QR code, the phone's progress, the take-back.

An account manager (whoever may register card users for the enterprise) hands one person and one card set
over to the phone: a single-use link of 30 minutes whose QR code is shown only on the answer to its creation
(the token is kept nowhere). The page then polls the progress endpoint (static/js/handover_progress.js), which
says the phone's step and, after submit, the registration's status: nothing personal. Either side completes,
never both (services.handover_take_back and the phone's submit change the status atomically).
"""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from accounts.permissions import Capability, may_somewhere, scope_filter
from cards.card_users.forms import CardUserRegisterForm
from cards.inventory.picker import with_picked_all
from cards.models import (
    FINAL_REGISTRATION_STATUSES,
    HandoverStatus,
    RegistrationStatus,
    SelfServiceLink,
    SelfServiceLinkKind,
)
from cards.self_service import services
from cards.self_service.card_lists import split_identifiers
from cards.self_service.views import TOKEN_PAGE_REFERRER_POLICY
from core.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from core.http import no_store
from enterprises import selectors as enterprise_selectors
from verification.models import Verification

REGISTER = Capability.CARD_USERS_REGISTER
MSG_NOT_FOUND = _("The handover does not exist or you have no access to it.")
MSG_ENTERPRISE = _("Choose the enterprise first.")
MSG_TAKEN_BACK = _("The handover is cancelled: the phone can no longer submit. Register the card user here.")
MSG_TAKEN_BACK_ORDER = _("The handover is cancelled: the phone can no longer submit. Continue the order here.")

STEP_LABELS = {
    "": _("Waiting for the phone to open the link"),
    "opened": _("Opened on the phone"),
    "consent": _("Consent given"),
    "cards": _("Cards chosen"),
    "identity": _("Name and ID number entered"),
    "id_photo": _("ID photo taken"),
    "live": _("Live capture done"),
    "review": _("Reviewing before submit"),
    "submitted": _("Submitted"),
}


# Why the phone's submit was refused, as the desk says it (by the error's code: the message itself may name
# the person's masked ID, and the desk page must not depend on what the phone typed).
REFUSAL_LABELS = {
    "one_id_five_cards": _(
        "Refused on the phone: this ID already holds the most live cards allowed (one ID, five cards)."
    ),
    "already_bound": _("Refused on the phone: a card of this handover already has a registered user."),
    "invalid_card": _("Refused on the phone: a card of this handover can no longer be registered."),
    "link_exhausted": _("Refused on the phone: the handover's code was already used."),
}
MSG_REFUSED_OTHER = _("Refused on the phone (%(code)s).")

# Where the desk came from, so that taking back returns there: the card-user page, or the order wizard.
ORIGIN_ORDER = "order"
ORIGINS = ("", ORIGIN_ORDER)


def refusal_display(code: str) -> str:
    if not code:
        return ""
    label = REFUSAL_LABELS.get(code)
    return str(label) if label is not None else str(MSG_REFUSED_OTHER % {"code": code})


def _origin(request) -> str:
    origin = request.POST.get("origin", "")
    return origin if origin in ORIGINS else ""


def _require_registrar(user) -> None:
    if not may_somewhere(user, REGISTER):
        raise PermissionDenied(services.MSG_HANDOVER_NOT_ALLOWED)


def handover_for_user(user, public_id) -> SelfServiceLink:
    """A handover the user may follow: 403 for a role that registers nobody, 404 outside their scope."""
    _require_registrar(user)
    try:
        key = uuid.UUID(str(public_id))
    except ValueError as exc:
        raise NotFound(MSG_NOT_FOUND) from exc
    link = (
        SelfServiceLink.objects.filter(scope_filter(user, REGISTER, path="enterprise__"))
        .filter(kind=SelfServiceLinkKind.HANDOVER, public_id=key)
        .select_related("enterprise", "card_user")
        .first()
    )
    if link is None:
        raise NotFound(MSG_NOT_FOUND)
    return link


def _comparison_reasons(card_user) -> list[str]:
    """The codes of why the face comparison refused (e.g. a face mismatch): codes only, nothing personal."""
    if card_user is None or card_user.registration_status not in (
        RegistrationStatus.NEEDS_NEW_PHOTO,
        RegistrationStatus.DECLINED,
    ):
        return []
    verification = Verification.objects.filter(card_user=card_user).order_by("-pk").first()
    reasons = verification.reasons if verification else []
    return [str(r["code"]) for r in reasons if isinstance(r, dict) and r.get("code")]


def progress_body(link: SelfServiceLink) -> dict:
    """The progress answer: the phone's step, who completed, why the phone was refused, the registration's
    status. No personal data.

    `done` (the page stops polling): taken back, refused on the phone, or a registration that has settled;
    a submitted one is followed until its face comparison answers.
    """
    card_user = link.card_user
    step = link.progress
    registration = card_user.registration_status if card_user else None
    done = (
        link.handover_status == HandoverStatus.COUNTER
        or bool(link.refusal_code)
        or registration in FINAL_REGISTRATION_STATUSES
        or (link.handover_status == HandoverStatus.OPEN and not link.is_active)
    )
    return {
        "step": step,
        "step_display": str(STEP_LABELS.get(step, "")),
        "status": link.handover_status,
        "status_display": link.get_handover_status_display(),
        "link_status": link.status,
        "done": done,
        "refusal": link.refusal_code or None,
        "refusal_display": refusal_display(link.refusal_code) or None,
        "registration": registration,
        "registration_display": str(card_user.get_registration_status_display()) if card_user else None,
        "reasons": _comparison_reasons(card_user),
        "card_user_url": reverse("cards:card_user_detail", args=[card_user.public_id]) if card_user else None,
    }


@login_required
@never_cache
@require_POST
def handover_create(request):
    """From the card-user registration page or the order wizard ("Continue on the phone"): only the
    enterprise and the cards are read, and re-authorised here; the page answers with the QR code and the
    live progress."""
    user = request.user
    _require_registrar(user)
    origin = _origin(request)
    enterprise_id = request.POST.get("enterprise", "")
    # The registration page's card picker may have posted "select all that match" (issue 11 §2).
    posted = with_picked_all(user, request.POST, field="iccids", purpose_name="card_user", enterprise_id=enterprise_id)
    identifiers = split_identifiers(posted.get("iccids", ""))
    try:
        if not enterprise_id:
            raise ValidationFailed(MSG_ENTERPRISE, code="required", field="enterprise")
        enterprise = enterprise_selectors.enterprise_for_action(user, enterprise_id, capability=REGISTER)
        link, token = services.handover_create(actor=user, enterprise=enterprise, identifiers=identifiers)
    except DomainError as exc:
        if isinstance(exc, (NotFound, PermissionDenied)):
            raise
        messages.error(request, exc.message)
        if origin == ORIGIN_ORDER:
            return redirect("orders:new_details")
        form = CardUserRegisterForm(initial={"enterprise": enterprise_id, "iccids": "\n".join(identifiers)}, user=user)
        return render(request, "cards/card_user_create.html", {"form": form}, status=exc.status_code)
    url = request.build_absolute_uri(reverse("self_service_public:link", kwargs={"token": token}))
    context = {
        "link": link,
        "enterprise": enterprise,
        "token": token,
        "url": url,
        "origin": origin,
        "cards": list(link.cards.order_by("iccid")),
        "progress": progress_body(link),
        "step_labels": [(key, label) for key, label in STEP_LABELS.items() if key],
    }
    response = render(request, "cards/self_service_handover.html", context)
    response["Referrer-Policy"] = TOKEN_PAGE_REFERRER_POLICY
    return no_store(response)


@login_required
@never_cache
@require_safe
def handover_progress(request, public_id):
    link = handover_for_user(request.user, public_id)
    return no_store(JsonResponse(progress_body(link)))


def _wants_json(request) -> bool:
    return request.headers.get("Accept", "").startswith("application/json")


@login_required
@never_cache
@require_POST
def handover_take_back(request, public_id):
    """The counter completes instead: the phone can no longer submit. 409 when the phone was first."""
    link = handover_for_user(request.user, public_id)
    try:
        services.handover_take_back(actor=request.user, link=link)
    except Conflict as exc:
        if _wants_json(request):
            return JsonResponse({"code": exc.code, "detail": str(exc.message), **progress_body(link)}, status=409)
        messages.error(request, exc.message)
        if link.card_user is not None:
            return redirect("cards:card_user_detail", public_id=link.card_user.public_id)
        return redirect("cards:card_user_list")
    if _wants_json(request):
        return JsonResponse(progress_body(link))
    if _origin(request) == ORIGIN_ORDER:
        messages.info(request, MSG_TAKEN_BACK_ORDER)
        return redirect("orders:new_details")  # the wizard still holds its cards and handler
    messages.info(request, MSG_TAKEN_BACK)
    # Every card of the handover, not only the first: the counter registers the same set.
    iccids = list(link.cards.order_by("iccid").values_list("iccid", flat=True))
    target = reverse("cards:card_user_create")
    return redirect(f"{target}?{urlencode([('card', iccid) for iccid in iccids])}" if iccids else target)
