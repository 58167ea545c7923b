"""Self-service links (C2, issue 9 §1): the only writers of SelfServiceLink.

Each service authorises its actor first (SELF_SERVICE_LINKS_MANAGE: an account manager in the enterprise's
province, an enterprise admin in their own), validates everything before it writes, and writes an audit
event. The token exists only in the return value of link_create (and of link_renew when it issues a new
one): the row keeps its keyed hash, and the audit event neither.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.permissions import Capability, require
from accounts.services import audit_record
from cards.models import (
    SELF_SERVICE_LINK_DEFAULT_DAYS,
    SELF_SERVICE_LINK_MAX_DAYS,
    SelfServiceLink,
    SelfServiceLinkStatus,
)
from cards.self_service.card_lists import enterprise_cards
from cards.self_service.tokens import new_token, token_hash
from core.errors import InvalidTransition, ValidationFailed
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


__all__ = ["clean_expires_in_days", "clean_max_uses", "link_create", "link_renew", "link_revoke"]
