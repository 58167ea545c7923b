"""How a card user's registration status (U5, U6) reads on pages and in the API."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from cards.card_users.services import live_card_count, one_id_card_limit
from cards.models import FINAL_REGISTRATION_STATUSES, CardUser, RegistrationStatus
from verification.services import retake_limit

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# --- a card user's registration: one sentence that says what happened and what to do ---------------

REGISTRATION_TEXTS = {
    RegistrationStatus.SUBMITTED: _("The photos are being compared; this page updates by itself."),
    RegistrationStatus.IN_REVIEW: _(
        "The face comparison awaits a reviewer; the cards are bound to this user once it is approved."
    ),
    RegistrationStatus.REGISTERED: _("Real-name registration is complete: the cards are bound to this user."),
    RegistrationStatus.NEEDS_NEW_PHOTO: _(
        "The photos could not be used (see the reasons below): register the card user again with a new photo."
    ),
    RegistrationStatus.DECLINED: _(
        "A reviewer declined the face comparison, so no card was bound: register again with photos of the "
        "card user in person."
    ),
    RegistrationStatus.NOT_BOUND: _(
        "Verified, but not bound: a requested card was cancelled or registered to another user meanwhile, so "
        "register the user again for cards that are still available."
    ),
}


NOT_BOUND_STATUSES = frozenset({RegistrationStatus.NOT_BOUND, RegistrationStatus.NOT_BOUND_CARD_LIMIT})

# The codes a bind refuses with (cards.card_users.services.card_user_bind): verification.services adds the
# refusal to the comparison's reasons, but on a page the registration's one sentence says it already.
BIND_REFUSAL_CODES = frozenset(
    {"one_id_five_cards", "already_bound", "wrong_enterprise", "invalid_transition", "required"}
)


def face_reasons_for_page(card_user: CardUser, status_body: dict) -> list[str]:
    """The comparison's reasons as the card user's page lists them: for a registration verified but not
    bound (issue 11 §1.4), without the bind's refusal, which the registration's sentence already says."""
    reasons, reason_codes = status_body["reasons"], status_body["reason_codes"]
    if card_user.registration_status not in NOT_BOUND_STATUSES:
        return list(reasons)
    return [text for text, code in zip(reasons, reason_codes, strict=False) if code not in BIND_REFUSAL_CODES]


def retakes_left(verification) -> int:
    return max(0, retake_limit() - (verification.retakes if verification is not None else 0))


def face_mismatch_text(card_user: CardUser, verification=None) -> StrOrPromise:
    """Issue 11 §1.2: say at once that the photos do not match, by how much, and how many retakes are left."""
    if verification is None:
        verification = card_user.verifications.order_by("-created_at", "-pk").first()
    left = retakes_left(verification)
    distance = getattr(verification, "distance", None)
    threshold = getattr(verification, "threshold_fail", None)
    measured = (
        _("The live photo does not match the ID photo (distance %(distance).3f, a mismatch above %(threshold).2f).")
        % {"distance": distance, "threshold": threshold}
        if distance is not None and threshold is not None
        else _("The live photo does not match the ID photo.")
    )
    advice: StrOrPromise
    if left:
        advice = ngettext(
            "If the person in front of you is the one on the ID, take the live photo again (%(left)s retake left); "
            "otherwise send it to a reviewer.",
            "If the person in front of you is the one on the ID, take the live photo again (%(left)s retakes left); "
            "otherwise send it to a reviewer.",
            left,
        ) % {"left": left}
    else:
        advice = _("No retake is left: send it to a reviewer.")
    return f"{measured} {advice}"


def registration_status_body(card_user: CardUser, verification=None) -> dict:
    """The registration's state as the page and the API show it: a stable code, its label, whether it
    is final, one sentence saying what to do and, when no card was bound, how many cards were asked for
    (and, for one-ID-five-cards, how many of the ID's slots are free now)."""
    status = RegistrationStatus(card_user.registration_status)
    cards_requested = slots_free = None
    if status in (RegistrationStatus.NOT_BOUND, RegistrationStatus.NOT_BOUND_CARD_LIMIT):
        if verification is None:
            verification = card_user.verifications.order_by("-created_at", "-pk").first()
        cards_requested = verification.cards.count() if verification is not None else 0
    detail: StrOrPromise
    if status == RegistrationStatus.NOT_BOUND_CARD_LIMIT:
        limit = one_id_card_limit()
        slots_free = max(0, limit - live_card_count(card_user.id_number_index, card_user.enterprise))
        params = {"requested": cards_requested, "free": slots_free, "limit": limit}
        if slots_free:
            detail = (
                _(
                    "Verified, but not bound (one ID, five cards): this registration asked for %(requested)s cards "
                    "and %(free)s of the ID's %(limit)s slots are free now, so cancel cards the ID no longer uses or "
                    "register it again for at most %(free)s cards."
                )
                % params
            )
        else:
            detail = (
                _(
                    "Verified, but not bound (one ID, five cards): this registration asked for %(requested)s cards "
                    "and all %(limit)s of the ID's slots are taken, so cancel cards the ID no longer uses before "
                    "registering it again."
                )
                % params
            )
    elif status == RegistrationStatus.FACE_MISMATCH:
        detail = face_mismatch_text(card_user, verification)
    else:
        detail = REGISTRATION_TEXTS[status]
    return {
        "code": status.value,
        "label": str(status.label),
        "final": status in FINAL_REGISTRATION_STATUSES,
        "not_bound": status in NOT_BOUND_STATUSES,
        "retakes_left": retakes_left(verification) if status == RegistrationStatus.FACE_MISMATCH else None,
        "detail": str(detail),
        "cards_requested": cards_requested,
        "slots_free": slots_free,
    }
