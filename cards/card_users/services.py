"""Card-user real-name (U5): the identity, its photos and consent, then the face comparison."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.permissions import Capability, actor_user, require
from accounts.pii import mask_identifier, personal_id_index
from accounts.services import audit_record
from cards.errors import CardLimitReached
from cards.inventory import sandbox
from cards.inventory.services import card_event, cards_realname_resolved
from cards.locks import lock_cards
from cards.models import (
    FINAL_REGISTRATION_STATUSES,
    LIVE_CARD_STATUSES,
    Card,
    CardBinding,
    CardUser,
    Channel,
    IdentitySlotLock,
    RegistrationStatus,
)
from core.columns import max_length
from core.errors import DomainError, InvalidTransition, ValidationFailed
from core.files import atomic_with_files
from core.identity import IdentityError, normalize_unit_name, validate_personal_id
from core.uploads import CleanUpload, sanitize_upload
from enterprises.models import Enterprise
from integrations.webhooks.models import EventType
from integrations.webhooks.payloads import codes, emit_event
from verification.models import Verification, VerificationPurpose, VerificationStatus
from verification.services import (
    retake_limit,
    verification_create,
    verification_retake,
    verification_send_to_review,
)

MSG_REGISTER_DENIED = _("Your role may not register card users for this enterprise.")
# Never names the other registration's name, nor its enterprise: the counter may not see either.
MSG_ID_NAME_MISMATCH = _(
    "This ID number is already registered under another name. One ID number is one person: check the name "
    "against the ID document and enter it exactly as printed there."
)

# Registrations that do not fix the name of their ID: the photos were unusable, or a reviewer refused them,
# so nothing says the name entered then belonged to the ID.
_REFUSED_REGISTRATIONS = (RegistrationStatus.NEEDS_NEW_PHOTO, RegistrationStatus.DECLINED)


def person_name_key(name: str) -> str:
    """A name as it identifies a person: the rules of a unit name (NFKC, no spaces or punctuation, Latin
    case-folded), so that "王芳", " 王 芳" and "王芳。" are one person and a typing slip is not a new one."""
    return normalize_unit_name(name)


def same_id_registrations(id_number_index: str, enterprise: Enterprise) -> QuerySet[CardUser]:
    """Every registration of one ID (its blind index) that the one-ID-one-person rule compares with: across
    every real enterprise, or a sandbox's own only (issue 10 §5: a platform's tests never meet a real person).
    Unscoped: callers never show these rows, only whether their name agrees."""
    queryset = CardUser.objects.filter(id_number_index=id_number_index).exclude(
        registration_status__in=_REFUSED_REGISTRATIONS
    )
    if sandbox.is_sandbox(enterprise):
        return queryset.filter(enterprise=enterprise)
    return queryset.filter(enterprise__sandbox_of__isnull=True)


def check_one_id_one_person(*, id_number_index: str, name: str, enterprise: Enterprise) -> None:
    """One ID number is one person (issue 11 §1.3): refuse a name that differs from the ID's registered one.

    The same name is the same person, recorded as one more CardUser row linked by the blind index (a row is
    one registration, with its own enterprise, photos and consent); person_cards gathers them again.
    """
    key = person_name_key(name)
    names = same_id_registrations(id_number_index, enterprise).values_list("name", flat=True).distinct()
    if any(person_name_key(other) != key for other in names):
        raise ValidationFailed(MSG_ID_NAME_MISMATCH, code="id_name_mismatch", field="name")


def one_id_card_limit() -> int:
    """U6: read at call time, so that a test (or a change of the operator's rule) can set it."""
    return settings.ONE_ID_CARD_LIMIT


# --- U6: one ID, five cards -------------------------------------------------


def live_card_count(id_number_index: str, enterprise: Enterprise | None = None) -> int:
    """U6: the live cards bound to this ID across every real enterprise. For a sandbox enterprise (issue 10 §5)
    its own bindings only, so that a platform's tests never take a real person's slots, nor the reverse."""
    if enterprise is not None and sandbox.is_sandbox(enterprise):
        return sandbox.sandbox_live_card_count(enterprise, id_number_index, one_id_card_limit())
    return CardBinding.objects.filter(
        id_number_index=id_number_index, ended_at__isnull=True, card__enterprise__sandbox_of__isnull=True
    ).count()


def _lock_identity(id_number_index: str) -> None:
    """Serialise binds of one ID document, on every process: a row lock on its blind index.

    Binds of different documents lock different rows and do not wait on each other.
    """
    IdentitySlotLock.objects.get_or_create(id_number_index=id_number_index)
    IdentitySlotLock.objects.select_for_update(of=("self",)).get(id_number_index=id_number_index)


def card_limit_refusal(card_user: CardUser, held: int) -> CardLimitReached:
    return CardLimitReached(
        _(
            "One ID, five cards: the ID %(id)s is already the registered user of %(held)s live cards; "
            "the limit is %(limit)s across all enterprises."
        )
        % {"id": mask_identifier(card_user.id_number), "held": held, "limit": one_id_card_limit()},
        field="id_number",
        params={"held": held, "limit": one_id_card_limit()},
    )


def card_user_bind(
    *, actor: User | None, card_user: CardUser, cards: Iterable[Card], verification: Verification | None = None
) -> list[CardBinding]:
    """Bind cards to a verified card user, never beyond the U6 limit, under concurrency."""
    cards = list(cards)
    if not cards:
        raise ValidationFailed(_("Choose at least one card."), code="required", field="cards")
    with transaction.atomic():
        _lock_identity(card_user.id_number_index)
        held = live_card_count(card_user.id_number_index, card_user.enterprise)
        locked_cards = lock_cards(cards)
        for card in locked_cards:
            if card.status not in LIVE_CARD_STATUSES:
                raise InvalidTransition(_("A cancelled card cannot be bound to a user."), field="cards")
            if card.enterprise_id != card_user.enterprise_id:
                raise ValidationFailed(
                    _("The card belongs to another enterprise."), code="wrong_enterprise", field="cards"
                )
            if CardBinding.objects.filter(card=card, ended_at__isnull=True).exists():
                raise ValidationFailed(
                    _("Card %(iccid)s already has a registered user.") % {"iccid": card.iccid},
                    code="already_bound",
                    field="cards",
                )
        if held + len(locked_cards) > one_id_card_limit():
            raise card_limit_refusal(card_user, held)
        bindings = [
            CardBinding.objects.create(card=card, card_user=card_user, id_number_index=card_user.id_number_index)
            for card in locked_cards
        ]
        for card in locked_cards:
            card_event(
                card,
                actor=actor,
                action="user_bound",
                from_status=card.status,
                data={
                    "card_user": str(card_user.public_id),
                    "verification": str(verification.public_id) if verification else None,
                },
            )
        cards_realname_resolved(actor=actor, cards=locked_cards)
    return bindings


def _clean_photo(upload: UploadedFile | bytes | None, field: str) -> CleanUpload:
    if not upload:
        raise ValidationFailed(_("This photo is required."), code="required", field=field)
    return sanitize_upload(upload, field=field)


def card_user_register(
    *,
    actor: User | None,
    enterprise: Enterprise,
    name: str,
    id_type: str,
    id_number: str,
    # An upload, or the bytes of one kept across the steps of the phone flow (core.uploads takes both).
    id_photo: UploadedFile | bytes | None,
    live_photo: UploadedFile | bytes | None,
    biometric_consent: bool,
    cards: Sequence[Card],
    channel: Channel = Channel.COUNTER,
    review_required: bool = False,
    liveness: str = "",
    liveness_frames: Sequence[bytes] = (),
    retake_offered: bool = False,
) -> Verification:
    """Record a card user and start the face comparison that completes their real-name.

    The cards are bound only when the comparison passes (verification.services);
    the five-card limit is checked now to fail early and again, under a lock, at binding.
    `review_required`: presence was not proven by a live capture, so even a passed comparison goes to a
    reviewer (never auto-approved). `liveness` and `liveness_frames`: how the live photo came and, for a
    capture that did not prove presence, its frames for the reviewer (verification_create).
    `retake_offered`: the person stands at the counter, so a clear mismatch waits for a retake
    (card_user_retake) or the manager's hand-off (card_user_send_to_review) before a reviewer sees it.
    """
    require(actor, Capability.CARD_USERS_REGISTER, enterprise, message=MSG_REGISTER_DENIED)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(_("The card user's name is required."), code="required", field="name")
    if len(name) > max_length(CardUser, "name"):
        raise ValidationFailed(_("The name is too long."), code="max_length", field="name")
    try:
        number = validate_personal_id(id_type, id_number or "")
    except IdentityError as exc:
        raise ValidationFailed(exc.message, code=exc.code, field="id_number") from exc
    if not biometric_consent:
        raise ValidationFailed(
            _("Face recognition needs the card user's explicit consent to process biometric data."),
            code="consent_required",
            field="biometric_consent",
        )
    cards = list(cards)
    if not cards:
        raise ValidationFailed(_("Choose at least one card."), code="required", field="cards")
    for card in cards:
        if card.enterprise_id != enterprise.pk or card.status not in LIVE_CARD_STATUSES:
            raise ValidationFailed(
                _("Card %(iccid)s cannot be registered for this enterprise.") % {"iccid": card.iccid},
                code="invalid_card",
                field="cards",
            )
    bound = CardBinding.objects.filter(card__in=cards, ended_at__isnull=True).select_related("card").first()
    if bound is not None:
        raise ValidationFailed(
            _("Card %(iccid)s already has a registered user.") % {"iccid": bound.card.iccid},
            code="already_bound",
            field="cards",
        )
    id_clean = _clean_photo(id_photo, "id_photo")
    live_clean = _clean_photo(live_photo, "live_photo")
    index = personal_id_index(id_type, number)
    check_one_id_one_person(id_number_index=index, name=name, enterprise=enterprise)  # fail early, unlocked

    with atomic_with_files() as stored:
        # Two first registrations of one ID under two names must not both pass the check: the slot lock's row
        # serialises them, as it does binds (on PostgreSQL; SQLite writes one at a time anyway).
        _lock_identity(index)
        check_one_id_one_person(id_number_index=index, name=name, enterprise=enterprise)
        card_user = CardUser(
            enterprise=enterprise,
            name=name,
            id_type=id_type,
            id_number=number,
            id_number_index=index,
            biometric_consent_at=timezone.now(),
            channel=channel,
            created_by=actor_user(actor),
        )
        held = live_card_count(index, enterprise)
        if held + len(cards) > one_id_card_limit():
            raise card_limit_refusal(card_user, held)
        stored.save(card_user.id_photo, f"id{id_clean.extension}", id_clean.content)
        stored.save(card_user.live_photo, f"live{live_clean.extension}", live_clean.content)
        card_user.save()
        audit_record(
            actor=actor,
            action="card_user.registered",
            obj=card_user,
            data={"channel": channel, "cards": [c.iccid for c in cards]},
        )
        return verification_create(
            actor=actor,
            purpose=VerificationPurpose.CARD_USER,
            enterprise=enterprise,
            id_photo=id_clean,
            live_photo=live_clean,
            card_user=card_user,
            cards=cards,
            review_required=review_required,
            liveness=liveness,
            liveness_frames=liveness_frames,
            retake_offered=retake_offered,
        )


# The registration while its comparison has not opened the gate (PASSED and APPROVED bind the cards).
_STATUS_OF_COMPARISON = {
    VerificationStatus.PENDING: RegistrationStatus.SUBMITTED,
    VerificationStatus.IN_REVIEW: RegistrationStatus.IN_REVIEW,
    VerificationStatus.REJECTED: RegistrationStatus.NEEDS_NEW_PHOTO,
    VerificationStatus.DECLINED: RegistrationStatus.DECLINED,
    VerificationStatus.MISMATCH: RegistrationStatus.FACE_MISMATCH,
}


def _mismatched_comparison(card_user: CardUser) -> Verification:
    """The registration's latest comparison, which must be a clear mismatch awaiting the counter."""
    verification = card_user.verifications.order_by("-created_at", "-pk").first()
    if verification is None or verification.status != VerificationStatus.MISMATCH:
        raise InvalidTransition(
            _("This registration is not waiting for a retake (it is %(status)s).")
            % {"status": card_user.get_registration_status_display()},
            code="not_mismatch",
        )
    return verification


def card_user_retake(
    *, actor: User | None, card_user: CardUser, live_photo: UploadedFile | bytes | None
) -> Verification:
    """A new live photo for a clear mismatch, while the person is at the counter (issue 11 §1.2).

    The card user's own copy of the live photo follows, so the registration shows the photo compared last.
    After FACE_RETAKE_LIMIT retakes a further mismatch goes to a reviewer by itself (verification.services).
    """
    require(actor, Capability.CARD_USERS_REGISTER, card_user.enterprise, message=MSG_REGISTER_DENIED)
    live_clean = _clean_photo(live_photo, "live_photo")
    with atomic_with_files() as stored:
        locked = CardUser.objects.select_for_update(of=("self",)).get(pk=card_user.pk)
        verification = _mismatched_comparison(locked)
        if verification.retakes >= retake_limit():
            raise InvalidTransition(_("No retake is left: send it to a reviewer."), code="retake_limit")
        stored.save(locked.live_photo, f"live{live_clean.extension}", live_clean.content)
        locked.save(update_fields=["live_photo"])
        audit_record(actor=actor, action="card_user.retake", obj=locked, data={"retake": verification.retakes + 1})
        return verification_retake(verification=verification, actor=actor, live_photo=live_clean)


def card_user_send_to_review(*, actor: User | None, card_user: CardUser) -> Verification:
    """The manager sends a clear mismatch to a reviewer rather than retake it (issue 11 §1.2)."""
    require(actor, Capability.CARD_USERS_REGISTER, card_user.enterprise, message=MSG_REGISTER_DENIED)
    with transaction.atomic():
        locked = CardUser.objects.select_for_update(of=("self",)).get(pk=card_user.pk)
        return verification_send_to_review(verification=_mismatched_comparison(locked), actor=actor)


def card_user_registration_settle(*, actor: User | None, verification: Verification) -> DomainError | None:
    """Move the registration on from its face comparison's new status; bind the cards once it passed.

    Called by verification.services in the transaction that stores the comparison's result or
    review, so the state and the bindings commit together. A passed comparison whose cards cannot
    be bound (U6: the slots were taken meanwhile; a card cancelled or bound to someone else) ends
    as "verified, but not bound": the refusal is returned for the comparison's reasons.
    """
    assert verification.card_user_id is not None  # a registration's comparison is created with its card user
    with transaction.atomic():
        card_user = CardUser.objects.select_for_update(of=("self",)).get(pk=verification.card_user_id)
        before = card_user.registration_status
        refusal: DomainError | None = None
        if verification.gate_open:
            try:
                with transaction.atomic():  # a refused bind leaves no binding behind
                    card_user_bind(
                        actor=actor,
                        card_user=card_user,
                        cards=list(verification.cards.all()),
                        verification=verification,
                    )
            except CardLimitReached as exc:
                refusal, after = exc, RegistrationStatus.NOT_BOUND_CARD_LIMIT
            except DomainError as exc:
                refusal, after = exc, RegistrationStatus.NOT_BOUND
            else:
                after = RegistrationStatus.REGISTERED
        else:
            after = _STATUS_OF_COMPARISON[VerificationStatus(verification.status)]
        if after == before:
            return refusal
        if before in FINAL_REGISTRATION_STATUSES:
            raise InvalidTransition(
                _("This registration is already settled (%(status)s).")
                % {"status": card_user.get_registration_status_display()}
            )
        card_user.registration_status = after
        card_user.save(update_fields=["registration_status"])
        data = {"from": before, "to": after, "verification": str(verification.public_id)}
        if refusal is not None:
            data["code"] = refusal.code
        audit_record(actor=actor, action="card_user.registration_status", obj=card_user, data=data)
        _emit_registration_event(card_user, verification, refusal)
    return refusal


# What a platform hears of a registration's new status (issue 10 §3); a submitted one is not news yet.
_EVENT_OF_STATUS = {
    RegistrationStatus.REGISTERED: EventType.CARD_USER_REGISTERED,
    RegistrationStatus.IN_REVIEW: EventType.CARD_USER_IN_REVIEW,
    RegistrationStatus.NEEDS_NEW_PHOTO: EventType.CARD_USER_REFUSED,
    RegistrationStatus.DECLINED: EventType.CARD_USER_REFUSED,
    RegistrationStatus.NOT_BOUND_CARD_LIMIT: EventType.CARD_USER_REFUSED,
    RegistrationStatus.NOT_BOUND: EventType.CARD_USER_REFUSED,
}


def _emit_registration_event(card_user: CardUser, verification: Verification, refusal: DomainError | None) -> None:
    """In the settling transaction: every channel's registration ends here, so each is emitted once."""
    event_type = _EVENT_OF_STATUS.get(RegistrationStatus(card_user.registration_status))
    if event_type is None:
        return
    reasons: list[str] = []
    if event_type == EventType.CARD_USER_REFUSED:
        # Codes only: a reason's message, or a reviewer's comment, may quote the person.
        reasons = [refusal.code] if refusal is not None else codes(verification.reasons)
        if card_user.registration_status == RegistrationStatus.DECLINED:
            reasons = [*reasons, "review_declined"]
    emit_event(
        card_user.enterprise,
        event_type,
        card_user=card_user.public_id,
        verification=verification.public_id,
        status=card_user.registration_status,
        channel=card_user.channel,
        cards=sorted(verification.cards.values_list("iccid", flat=True)),
        reasons=reasons,
    )


def card_user_verification_settled(*, verification: Verification, actor: User | None) -> DomainError | None:
    """Receiver of verification.hooks.verification_settled: a card user's comparison moves the
    registration (U5) and, once it passes, binds the cards (U6). Returns the bind's refusal, if any."""
    if verification.purpose != VerificationPurpose.CARD_USER:
        return None
    return card_user_registration_settle(actor=actor, verification=verification)
