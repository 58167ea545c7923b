"""Self-service links (C2, issue 9 §1): the only writers of SelfServiceLink.

Each service authorises its actor first (SELF_SERVICE_LINKS_MANAGE: an account manager in the enterprise's
province, an enterprise admin in their own), validates everything before it writes, and writes an audit
event. The token exists only in the return value of link_create (and of link_renew when it issues a new
one): the row keeps its keyed hash, and the audit event neither.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import NoticeKind, User
from accounts.notifications import notify, path_for
from accounts.permissions import Capability, can, require
from accounts.services import audit_record
from cards.models import (
    SELF_SERVICE_LINK_DEFAULT_DAYS,
    SELF_SERVICE_LINK_MAX_DAYS,
    CardUser,
    HandoverStatus,
    SelfServiceLink,
    SelfServiceLinkKind,
    SelfServiceLinkStatus,
)
from cards.self_service.card_lists import enterprise_cards
from cards.self_service.tokens import new_token, token_hash
from core.errors import Conflict, InvalidTransition, ValidationFailed
from core.identity import mask_numbers_in_text
from enterprises.models import Enterprise

MAX_USES_LIMIT = 1_000_000
LABEL_MAX_LENGTH = 100

MSG_NOT_ALLOWED = _("Your role may not manage the self-service links of this enterprise.")
MSG_LABEL = _("Give the link a label (at most 100 characters), e.g. the site or the batch it is for.")
MSG_EXPIRY = _("A link is valid for 1 to %(max)s days.")
MSG_MAX_USES = _("The number of uses must be a whole number from 1 to %(max)s.")
MSG_ALREADY_REVOKED = _("This link is already revoked.")
MSG_RENEW_USES = _("The link has been used %(uses)s times: allow more uses than that, or it stays used up.")


def _require(actor: User, enterprise: Enterprise) -> None:
    require(actor, Capability.SELF_SERVICE_LINKS_MANAGE, enterprise, message=MSG_NOT_ALLOWED)


def clean_label(label: object) -> str:
    value = " ".join(str(label or "").split())
    if not value or len(value) > LABEL_MAX_LENGTH:
        raise ValidationFailed(MSG_LABEL, code="invalid_label", field="label")
    return value


def clean_expires_in_days(days: Any) -> int:  # as a form or the API gives it
    if days is None or days == "":
        return SELF_SERVICE_LINK_DEFAULT_DAYS
    try:
        value = int(days)
    except (TypeError, ValueError):
        value = 0
    if isinstance(days, bool) or str(value) != str(days).strip() or not 1 <= value <= SELF_SERVICE_LINK_MAX_DAYS:
        raise ValidationFailed(
            MSG_EXPIRY % {"max": SELF_SERVICE_LINK_MAX_DAYS}, code="invalid_expires_in_days", field="expires_in_days"
        )
    return value


def clean_max_uses(max_uses: Any) -> int:  # as a form or the API gives it
    try:
        value = int(max_uses)
    except (TypeError, ValueError):
        value = 0
    if isinstance(max_uses, bool) or str(value) != str(max_uses).strip() or not 1 <= value <= MAX_USES_LIMIT:
        raise ValidationFailed(MSG_MAX_USES % {"max": MAX_USES_LIMIT}, code="invalid_max_uses", field="max_uses")
    return value


def link_create(
    *,
    actor: User,
    enterprise: Enterprise,
    label: object,
    identifiers: Iterable[str] | None = None,
    expires_in_days: Any = SELF_SERVICE_LINK_DEFAULT_DAYS,
    max_uses: Any,
) -> tuple[SelfServiceLink, str]:
    """A new link for the enterprise, and its token (shown once: only its hash is kept).

    `identifiers` are ICCIDs or MSISDNs of the enterprise's cards; none (or an empty list) means the link
    covers the enterprise's cards that await real-name.
    """
    _require(actor, enterprise)
    label = clean_label(label)
    days = clean_expires_in_days(expires_in_days)
    uses = clean_max_uses(max_uses)
    cards = enterprise_cards(enterprise, identifiers or [])
    token = new_token()
    with transaction.atomic():
        link = SelfServiceLink.objects.create(
            enterprise=enterprise,
            label=label,
            token_hash=token_hash(token),
            expires_at=timezone.now() + timedelta(days=days),
            max_uses=uses,
            created_by=actor,
        )
        if cards:
            link.cards.set(cards)
        audit_record(
            actor=actor,
            action="self_service_link.created",
            obj=link,
            data={
                "enterprise": str(enterprise.public_id),
                "cards": len(cards),
                "expires_at": link.expires_at.isoformat(),
                "max_uses": uses,
            },
        )
    return link, token


def link_revoke(*, actor: User, link: SelfServiceLink) -> SelfServiceLink:
    """Revoke the link: its URL stops working at once (410)."""
    _require(actor, link.enterprise)
    with transaction.atomic():
        link = SelfServiceLink.objects.select_for_update().get(pk=link.pk)
        if link.revoked_at is not None:
            raise InvalidTransition(MSG_ALREADY_REVOKED, code="already_revoked")
        was = link.status
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
        audit_record(actor=actor, action="self_service_link.revoked", obj=link, data={"was": was})
    return link


def link_renew(
    *, actor: User, link: SelfServiceLink, expires_in_days: Any = SELF_SERVICE_LINK_DEFAULT_DAYS, max_uses: Any = None
) -> tuple[SelfServiceLink, str | None]:
    """A new expiry (and, when given, a new cap on uses). A revoked or expired link gets a NEW token, so
    the old URL, which may be anywhere by now, stays dead; the new token is returned, else None."""
    _require(actor, link.enterprise)
    days = clean_expires_in_days(expires_in_days)
    uses = clean_max_uses(max_uses) if max_uses not in (None, "") else None
    with transaction.atomic():
        link = SelfServiceLink.objects.select_for_update().get(pk=link.pk)
        if uses is not None and uses <= link.uses:
            raise ValidationFailed(MSG_RENEW_USES % {"uses": link.uses}, code="invalid_max_uses", field="max_uses")
        was = link.status
        token = None
        fields = ["expires_at"]
        if was in (SelfServiceLinkStatus.REVOKED, SelfServiceLinkStatus.EXPIRED):
            token = new_token()
            link.token_hash = token_hash(token)
            link.revoked_at = None
            fields += ["token_hash", "revoked_at"]
        if uses is not None:
            link.max_uses = uses
            fields.append("max_uses")
        link.expires_at = timezone.now() + timedelta(days=days)
        link.save(update_fields=fields)
        audit_record(
            actor=actor,
            action="self_service_link.renewed",
            obj=link,
            data={
                "was": was,
                "expires_at": link.expires_at.isoformat(),
                "max_uses": link.max_uses,
                "new_token": token is not None,
            },
        )
    return link, token


# --- the counter hands over to the phone (C1, issue 9 §4) --------------------------------------

HANDOVER_MINUTES = 30
# What the phone's progress may say: the last step it reached (phone.py records it), never what was typed.
HANDOVER_STEPS = ("opened", "consent", "cards", "identity", "id_photo", "live", "review", "submitted")

MSG_HANDOVER_NOT_ALLOWED = _("Your role may not register card users for this enterprise.")
MSG_HANDOVER_CARDS = _("Name the card or cards this person registers (ICCIDs or MSISDNs) before handing over.")
MSG_HANDOVER_LABEL = _("Counter handover to the phone")
MSG_HANDOVER_CLOSED_PHONE = _("The phone has already submitted this registration: it cannot be taken back.")
MSG_HANDOVER_CLOSED_COUNTER = _(
    "The account manager has taken this registration back to the counter: this phone can no longer submit it. "
    "Ask the account manager at the counter."
)


def handover_create(*, actor: User, enterprise: Enterprise, identifiers: Iterable[str]) -> tuple[SelfServiceLink, str]:
    """A one-person, one-card-set link the counter shows as a QR code (single use, 30 minutes), and its token.

    Whoever may register card users for the enterprise may hand one over; the phone then registers through
    the same services as the counter.
    """
    require(actor, Capability.CARD_USERS_REGISTER, enterprise, message=MSG_HANDOVER_NOT_ALLOWED)
    cards = enterprise_cards(enterprise, identifiers, field="iccids")
    if not cards:
        raise ValidationFailed(MSG_HANDOVER_CARDS, code="required", field="iccids")
    token = new_token()
    with transaction.atomic():
        link = SelfServiceLink.objects.create(
            enterprise=enterprise,
            label=str(MSG_HANDOVER_LABEL),
            token_hash=token_hash(token),
            expires_at=timezone.now() + timedelta(minutes=HANDOVER_MINUTES),
            max_uses=1,
            created_by=actor,
            kind=SelfServiceLinkKind.HANDOVER,
            handover_status=HandoverStatus.OPEN,
        )
        link.cards.set(cards)
        audit_record(
            actor=actor,
            action="self_service_link.handover_created",
            obj=link,
            data={
                "enterprise": str(enterprise.public_id),
                "cards": len(cards),
                "expires_at": link.expires_at.isoformat(),
            },
        )
    return link, token


def handover_take_back(*, actor: User, link: SelfServiceLink) -> SelfServiceLink:
    """The counter completes instead (cancel, then register at the counter): OPEN -> COUNTER in one UPDATE,
    which also revokes the link; Conflict (409) when the phone completed first."""
    require(actor, Capability.CARD_USERS_REGISTER, link.enterprise, message=MSG_HANDOVER_NOT_ALLOWED)
    with transaction.atomic():
        now = timezone.now()
        taken = SelfServiceLink.objects.filter(
            pk=link.pk, kind=SelfServiceLinkKind.HANDOVER, handover_status=HandoverStatus.OPEN
        ).update(handover_status=HandoverStatus.COUNTER, revoked_at=now)
        if not taken:
            raise Conflict(MSG_HANDOVER_CLOSED_PHONE, code="handover_completed")
        link.handover_status, link.revoked_at = HandoverStatus.COUNTER, now
        audit_record(actor=actor, action="self_service_link.handover_taken_back", obj=link, data={})
    return link


def handover_claim_for_phone(link: SelfServiceLink) -> None:
    """The phone completes: OPEN -> PHONE in one UPDATE, inside the submit's transaction (a refused
    registration rolls it back); Conflict when the counter took it back first. Other links pass."""
    if link.kind != SelfServiceLinkKind.HANDOVER:
        return
    claimed = SelfServiceLink.objects.filter(pk=link.pk, handover_status=HandoverStatus.OPEN).update(
        handover_status=HandoverStatus.PHONE
    )
    if not claimed:
        raise Conflict(MSG_HANDOVER_CLOSED_COUNTER, code="handover_taken_back")
    link.handover_status = HandoverStatus.PHONE


def handover_refuse(link: SelfServiceLink, code: str) -> None:
    """The phone's submit was refused (its transaction rolled back): keep the reason's code on the handover,
    which stays OPEN, so that the desk shows why and may take it back. Other links: nothing."""
    if link.kind != SelfServiceLinkKind.HANDOVER:
        return
    code = (code or "refused")[: SelfServiceLink._meta.get_field("refusal_code").max_length]
    SelfServiceLink.objects.filter(pk=link.pk, handover_status=HandoverStatus.OPEN).update(refusal_code=code)
    link.refusal_code = code


def handover_record(link: SelfServiceLink, step: str, *, card_user: CardUser | None = None) -> None:
    """Note the phone's step on a handover (one small UPDATE, only when it changed); other links: nothing."""
    if link.kind != SelfServiceLinkKind.HANDOVER or step not in HANDOVER_STEPS:
        return
    fields: dict[str, Any] = {"progress": step}
    if card_user is not None:
        fields["card_user"] = card_user
    if link.progress != step or card_user is not None:
        SelfServiceLink.objects.filter(pk=link.pk).update(**fields)
        link.progress = step


__all__ = [
    "HANDOVER_STEPS",
    "clean_expires_in_days",
    "clean_max_uses",
    "handover_claim_for_phone",
    "handover_create",
    "handover_record",
    "handover_refuse",
    "handover_take_back",
    "link_create",
    "link_renew",
    "link_revoke",
]


def links_warn_expiring(*, within: timedelta, now: datetime | None = None) -> int:
    """Tell a self-service link's creator that it expires within `within` (issue 11 §3), once per link
    and expiry: the daily beat task may run again, and a renewed link is told of again. Revoked and
    used-up links are not worth a word; the text names the link's label only, never a card user."""
    now = now or timezone.now()
    due = SelfServiceLink.objects.filter(
        revoked_at__isnull=True, expires_at__gt=now, expires_at__lte=now + within, uses__lt=F("max_uses")
    ).select_related("enterprise", "created_by")
    written = 0
    for link in due.order_by("pk").iterator():
        if not can(link.created_by, Capability.SELF_SERVICE_LINKS_MANAGE, link.enterprise):
            continue  # moved on, or no longer manages links here
        with transaction.atomic():
            written += (
                notify(
                    link.created_by,
                    NoticeKind.EXPIRING,
                    link,
                    title=str(
                        _("The self-service link “%(label)s” of %(enterprise)s expires on %(date)s")
                        % {
                            "label": mask_numbers_in_text(link.label),
                            "enterprise": link.enterprise.name,
                            "date": timezone.localtime(link.expires_at).strftime("%Y-%m-%d"),
                        }
                    ),
                    body=str(_("Renew it if card users still need it.")),
                    link=path_for("self_service:list", link.enterprise.public_id),
                    once_key=f"expiring:link:{link.pk}:{link.expires_at:%Y%m%d%H%M}",
                )
                is not None
            )
    return written
