"""Scoped reads of self-service links, and the link behind a token.

Staff reads are scoped by the capability that manages links: a role without it anywhere is refused (403),
and a link outside the actor's enterprise or province "does not exist" (404), like every other record.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Count, QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.permissions import Capability, may_somewhere, scope_filter
from cards.models import CardStatus, SelfServiceLink
from cards.self_service.services import MSG_NOT_ALLOWED
from cards.self_service.tokens import TOKEN_MAX_LENGTH, token_hash
from core.errors import NotFound, PermissionDenied

MANAGE = Capability.SELF_SERVICE_LINKS_MANAGE
MSG_LINK_NOT_FOUND = _("The self-service link does not exist or you have no access to it.")


def require_manager(user: Any) -> None:
    """403 for a role that manages no links anywhere (approvers, ops): before any lookup can answer 404."""
    if not may_somewhere(user, MANAGE):
        raise PermissionDenied(MSG_NOT_ALLOWED)


def links_visible_to(user: Any) -> QuerySet[SelfServiceLink]:
    return (
        SelfServiceLink.objects.filter(scope_filter(user, MANAGE, path="enterprise__"))
        .select_related("enterprise", "created_by")
        .annotate(card_count=Count("cards"))
        .order_by("-created_at", "-pk")
    )


def link_for_user(user: Any, public_id: object) -> SelfServiceLink:
    require_manager(user)
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        key = None
    link = links_visible_to(user).filter(public_id=key).first() if key else None
    if link is None:
        raise NotFound(MSG_LINK_NOT_FOUND)
    return link


def link_for_token(token: str) -> SelfServiceLink | None:
    """The link whose token this is, whatever its status; None for a token that is no link's."""
    if not token or len(token) > TOKEN_MAX_LENGTH:
        return None
    return SelfServiceLink.objects.select_related("enterprise").filter(token_hash=token_hash(token)).first()


def awaiting_cards_count(link: SelfServiceLink) -> int:
    """How many cards the link covers now: its list, or the enterprise's cards awaiting real-name."""
    card_count = getattr(link, "card_count", None)
    if card_count is None:
        card_count = link.cards.count()
    if card_count:
        return card_count
    return link.enterprise.cards.filter(status=CardStatus.AWAITING_REALNAME).count()


__all__ = ["awaiting_cards_count", "link_for_token", "link_for_user", "links_visible_to", "require_manager"]
