"""Scoped reads of callback endpoints, their delivery attempts and the events feed (issue 10 §3).

Everything is scoped by WEBHOOKS_MANAGE, the capability that manages callbacks: an API key holds it only
with the webhooks:manage scope, so a key without it reads no deliveries and no events. A role (or key)
without it anywhere is refused (403) before any lookup; a record outside the actor's enterprise or province
"does not exist" (404), like every other record.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.permissions import Capability, may_somewhere, scope_filter
from core.errors import NotFound, PermissionDenied
from enterprises.models import Enterprise
from integrations.webhooks.models import DeliveryAttempt, Event, EventType, WebhookEndpoint
from integrations.webhooks.services import MSG_NOT_ALLOWED

MANAGE = Capability.WEBHOOKS_MANAGE
ID_MAX_LENGTH = 40
MSG_ENDPOINT_NOT_FOUND = _("The callback endpoint does not exist or you have no access to it.")
MSG_ATTEMPT_NOT_FOUND = _("The delivery attempt does not exist or you have no access to it.")
MSG_ENTERPRISE_NOT_FOUND = _("The enterprise does not exist or you have no access to it.")


def require_manager(actor: Any) -> None:
    """403 for a role, or a key, that manages no callbacks anywhere: before any lookup can answer 404."""
    if not may_somewhere(actor, MANAGE):
        raise PermissionDenied(MSG_NOT_ALLOWED)


def enterprise_for_webhooks(actor: Any, public_id: object) -> Enterprise:
    """The enterprise whose callbacks the actor manages, else 404 (a key may lack the cards:read scope). As in
    enterprises.selectors.enterprise_for_user, a test key's sandbox answers to its real enterprise's id too."""
    require_manager(actor)
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        raise NotFound(MSG_ENTERPRISE_NOT_FOUND, code="not_found", field="enterprise") from None
    enterprise = (
        Enterprise.objects.filter(scope_filter(actor, MANAGE))
        .filter(Q(public_id=key) | Q(sandbox_of__public_id=key))
        .first()
    )
    if enterprise is None:
        raise NotFound(MSG_ENTERPRISE_NOT_FOUND, code="not_found", field="enterprise")
    return enterprise


def endpoints_visible_to(actor: Any) -> QuerySet[WebhookEndpoint]:
    return (
        WebhookEndpoint.objects.filter(scope_filter(actor, MANAGE, path="enterprise__"))
        .select_related("enterprise")
        .order_by("-created_at", "-pk")
    )


def _clean_id(public_id: object) -> str | None:
    value = str(public_id)
    return value if 0 < len(value) <= ID_MAX_LENGTH else None


def endpoint_for_user(actor: Any, public_id: object) -> WebhookEndpoint:
    require_manager(actor)
    key = _clean_id(public_id)
    endpoint = endpoints_visible_to(actor).filter(public_id=key).first() if key else None
    if endpoint is None:
        raise NotFound(MSG_ENDPOINT_NOT_FOUND)
    return endpoint


def attempts_of(endpoint: WebhookEndpoint) -> QuerySet[DeliveryAttempt]:
    """Every attempt to the endpoint, newest first (the endpoint was loaded through endpoint_for_user)."""
    return (
        DeliveryAttempt.objects.filter(delivery__endpoint=endpoint)
        .select_related("delivery__event")
        .order_by("-attempted_at", "-pk")
    )


def attempt_for_user(actor: Any, endpoint: WebhookEndpoint, public_id: object) -> DeliveryAttempt:
    key = _clean_id(public_id)
    attempt = (
        attempts_of(endpoint).select_related("delivery__endpoint__enterprise").filter(public_id=key).first()
        if key
        else None
    )
    if attempt is None:
        raise NotFound(MSG_ATTEMPT_NOT_FOUND)
    return attempt


def events_visible_to(actor: Any) -> QuerySet[Event]:
    """The feed: the events of the actor's enterprises, oldest first. A test event is for one endpoint only,
    not for the feed."""
    require_manager(actor)
    return Event.objects.filter(scope_filter(actor, MANAGE, path="enterprise__")).exclude(type=EventType.TEST)
