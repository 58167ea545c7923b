"""Callback endpoints (issue 10 §3): the only writers of WebhookEndpoint, and of resends and test events.

Each service authorises its actor first (WEBHOOKS_MANAGE: the enterprise's admin, an account manager of its
province, or an API key with the webhooks:manage scope), then writes in one transaction with an audit event.
An audit event names the endpoint and its host, never its secret nor the URL's path or query, which may
carry a receiver's own token. Deliveries are sent only after the commit (events.send_after_commit), and the
sweeper sends any that a broker outage stranded, since every resent delivery is left due.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.permissions import Capability, actor_user, require
from accounts.services import audit_record
from core.errors import InvalidTransition, ValidationFailed
from enterprises.models import Enterprise
from integrations.webhooks import signing, ssrf
from integrations.webhooks.events import send_after_commit
from integrations.webhooks.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Event,
    EventType,
    WebhookEndpoint,
)

MANAGE = Capability.WEBHOOKS_MANAGE
URL_MAX_LENGTH = 2000
DESCRIPTION_MAX_LENGTH = 200
MAX_ENDPOINTS = 20
DEFAULT_GRACE_HOURS = 24
# A recovery sends this many deliveries itself; the sweeper sends the rest, a batch at each beat.
RECOVER_SENT_AT_ONCE = 200
MAX_GRACE_HOURS = 24 * 7
# The types an endpoint may subscribe to: every business event. The test event goes to the one endpoint
# that asked for it, whatever it subscribes to.
SUBSCRIBABLE = [t.value for t in EventType if t != EventType.TEST]

MSG_NOT_ALLOWED = _("Your role may not manage the callback endpoints of this enterprise.")
MSG_URL = _("Give the callback URL, at most 2000 characters.")
MSG_EVENTS = _("Choose event types among: %(types)s (none for all of them).")
MSG_DESCRIPTION = _("The description is at most 200 characters.")
MSG_GRACE = _("The grace period is 0 to %(max)s hours.")
MSG_TOO_MANY = _("An enterprise has at most %(max)s callback endpoints.")
MSG_DISABLED = _("This callback endpoint is disabled: enable it first.")
MSG_ALREADY_DISABLED = _("This callback endpoint is already disabled.")
MSG_ALREADY_ENABLED = _("This callback endpoint is already enabled.")
MSG_SINCE = _("Give the time to recover from, e.g. 2026-01-31T08:00:00Z.")


def _require(actor: Any, enterprise: Enterprise) -> None:
    require(actor, MANAGE, enterprise, message=MSG_NOT_ALLOWED)


def clean_url(url: object) -> str:
    """The URL, checked by the SSRF guard now (delivery checks it again, and connects to what it checked)."""
    if not isinstance(url, str) or not url.strip() or len(url.strip()) > URL_MAX_LENGTH:
        raise ValidationFailed(MSG_URL, code="invalid_url", field="url")
    value = url.strip()
    ssrf.check_url(value)
    return value


def clean_events(events: object) -> list[str]:
    """The event types, deduplicated in the catalogue's order; an empty list (or none) subscribes to all."""
    if events is None or events == "":
        return []
    message = MSG_EVENTS % {"types": ", ".join(SUBSCRIBABLE)}
    if not isinstance(events, list | tuple):
        raise ValidationFailed(message, code="invalid_events", field="events")
    if any(not isinstance(event, str) or event not in SUBSCRIBABLE for event in events):
        raise ValidationFailed(message, code="invalid_events", field="events")
    return [event for event in SUBSCRIBABLE if event in events]


def clean_description(description: object) -> str:
    if description is None:
        return ""
    if not isinstance(description, str):
        raise ValidationFailed(MSG_DESCRIPTION, code="invalid_description", field="description")
    value = " ".join(description.split())
    if len(value) > DESCRIPTION_MAX_LENGTH:
        raise ValidationFailed(MSG_DESCRIPTION, code="invalid_description", field="description")
    return value


def clean_grace_hours(hours: object) -> int:
    message = MSG_GRACE % {"max": MAX_GRACE_HOURS}
    if hours is None or hours == "":
        return DEFAULT_GRACE_HOURS
    if isinstance(hours, bool) or not isinstance(hours, int | str):
        raise ValidationFailed(message, code="invalid_grace_hours", field="grace_hours")
    try:
        number = int(hours)
    except ValueError:
        raise ValidationFailed(message, code="invalid_grace_hours", field="grace_hours") from None
    if not 0 <= number <= MAX_GRACE_HOURS:
        raise ValidationFailed(message, code="invalid_grace_hours", field="grace_hours")
    return number


def _audit(actor: Any, action: str, endpoint: WebhookEndpoint, **data: Any) -> None:
    host = urlsplit(endpoint.url).hostname or ""
    audit_record(
        actor=actor,
        action=action,
        obj=endpoint,
        data={"webhook_endpoint_id": endpoint.public_id, "host": host, **data},
    )


def _locked(endpoint: WebhookEndpoint) -> WebhookEndpoint:
    return WebhookEndpoint.objects.select_for_update().select_related("enterprise").get(pk=endpoint.pk)


def endpoint_create(
    *, actor: Any, enterprise: Enterprise, url: object, events: object = None, description: object = ""
) -> tuple[WebhookEndpoint, str]:
    """A new enabled endpoint: (the record, its signing secret `whsec_…`, also shown in the portal)."""
    _require(actor, enterprise)
    clean = clean_url(url)
    chosen = clean_events(events)
    text = clean_description(description)
    secret = signing.new_secret()
    with transaction.atomic():
        # Lock the enterprise so that two creates at once cannot both pass the limit.
        Enterprise.objects.select_for_update().filter(pk=enterprise.pk).first()
        if WebhookEndpoint.objects.filter(enterprise=enterprise).count() >= MAX_ENDPOINTS:
            raise ValidationFailed(MSG_TOO_MANY % {"max": MAX_ENDPOINTS}, code="too_many_endpoints")
        endpoint = WebhookEndpoint.objects.create(
            enterprise=enterprise,
            url=clean,
            events=chosen,
            description=text,
            secret=secret,
            created_by=actor_user(actor),
        )
        _audit(actor, "webhook_endpoint.created", endpoint, events=chosen)
    return endpoint, secret


_UNSET: Any = object()


def endpoint_update(
    *,
    actor: Any,
    endpoint: WebhookEndpoint,
    url: object = _UNSET,
    events: object = _UNSET,
    description: object = _UNSET,
) -> WebhookEndpoint:
    """Change what is given (a new URL passes the SSRF guard again); what is not given stays."""
    _require(actor, endpoint.enterprise)
    changes: dict[str, Any] = {}
    if url is not _UNSET:
        changes["url"] = clean_url(url)
    if events is not _UNSET:
        changes["events"] = clean_events(events)
    if description is not _UNSET:
        changes["description"] = clean_description(description)
    with transaction.atomic():
        record = _locked(endpoint)
        changed = [field for field, value in changes.items() if getattr(record, field) != value]
        if not changed:
            return record
        for field in changed:
            setattr(record, field, changes[field])
        record.save(update_fields=[*changed, "updated_at"])
        _audit(actor, "webhook_endpoint.updated", record, fields=sorted(changed), events=record.events)
    return record


def endpoint_disable(*, actor: Any, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """No delivery goes out while disabled; pending ones wait and go once it is enabled again."""
    _require(actor, endpoint.enterprise)
    with transaction.atomic():
        record = _locked(endpoint)
        if not record.enabled:
            raise InvalidTransition(MSG_ALREADY_DISABLED, code="already_disabled")
        record.enabled = False
        record.disabled_at = timezone.now()
        record.disabled_reason = "manual"
        record.save(update_fields=["enabled", "disabled_at", "disabled_reason", "updated_at"])
        _audit(actor, "webhook_endpoint.disabled", record)
    return record


def endpoint_enable(*, actor: Any, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Enable again; the run of failures starts afresh, or the 5-day rule would disable it at the next one."""
    _require(actor, endpoint.enterprise)
    with transaction.atomic():
        record = _locked(endpoint)
        if record.enabled:
            raise InvalidTransition(MSG_ALREADY_ENABLED, code="already_enabled")
        reason = record.disabled_reason
        record.enabled = True
        record.disabled_at = None
        record.disabled_reason = ""
        record.failing_since = None
        record.save(update_fields=["enabled", "disabled_at", "disabled_reason", "failing_since", "updated_at"])
        _audit(actor, "webhook_endpoint.enabled", record, was_disabled_for=reason)
    return record


def endpoint_delete(*, actor: Any, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint with its deliveries and their attempts; the events stay in the feed."""
    _require(actor, endpoint.enterprise)
    with transaction.atomic():
        record = _locked(endpoint)
        _audit(actor, "webhook_endpoint.deleted", record)
        record.delete()


def endpoint_rotate_secret(
    *, actor: Any, endpoint: WebhookEndpoint, grace_hours: object = DEFAULT_GRACE_HOURS
) -> tuple[WebhookEndpoint, str]:
    """A new secret now; the old one signs too (deliver.headers_for sends both) for `grace_hours` more."""
    _require(actor, endpoint.enterprise)
    hours = clean_grace_hours(grace_hours)
    secret = signing.new_secret()
    with transaction.atomic():
        record = _locked(endpoint)
        if hours:
            record.previous_secret = record.secret
            record.previous_secret_until = timezone.now() + timedelta(hours=hours)
        else:
            record.previous_secret = ""
            record.previous_secret_until = None
        record.secret = secret
        record.save(update_fields=["secret", "previous_secret", "previous_secret_until", "updated_at"])
        _audit(actor, "webhook_endpoint.secret_rotated", record, grace_hours=hours)
    return record, secret


def _require_enabled(endpoint: WebhookEndpoint) -> None:
    if not endpoint.enabled:
        raise InvalidTransition(MSG_DISABLED, code="endpoint_disabled")


def _make_due(deliveries: Iterable[Delivery], now: datetime) -> list[int]:
    ids = [delivery.pk for delivery in deliveries]
    Delivery.objects.filter(pk__in=ids).update(status=DeliveryStatus.PENDING, next_attempt_at=now)
    return ids


def delivery_resend(*, actor: Any, attempt: DeliveryAttempt) -> Delivery:
    """Send the attempt's event to its endpoint once more, now: the same `webhook-id`, signed afresh."""
    delivery = attempt.delivery
    endpoint = delivery.endpoint
    _require(actor, endpoint.enterprise)
    with transaction.atomic():
        record = _locked(endpoint)
        _require_enabled(record)
        locked = Delivery.objects.select_for_update().select_related("event").get(pk=delivery.pk)
        ids = _make_due([locked], timezone.now())
        _audit(actor, "webhook_delivery.resent", record, event_id=locked.event.public_id, attempt_id=attempt.public_id)
    send_after_commit(ids)
    locked.refresh_from_db()
    return locked


def endpoint_recover(*, actor: Any, endpoint: WebhookEndpoint, since: object) -> int:
    """Resend what the endpoint missed of the events since `since`; how many deliveries go out again.

    That is every failed or given-up delivery, and every event it wants that it never got a delivery of
    because it was disabled then (emit() skips disabled endpoints), since it was created. The first
    RECOVER_SENT_AT_ONCE are sent now; the rest are due, and the sweeper (send_due_deliveries) sends them.
    """
    _require(actor, endpoint.enterprise)
    if not isinstance(since, datetime) or timezone.is_naive(since):
        raise ValidationFailed(MSG_SINCE, code="invalid_since", field="since")
    now = timezone.now()
    with transaction.atomic():
        record = _locked(endpoint)
        _require_enabled(record)
        Delivery.objects.filter(
            endpoint=record, status__in=[DeliveryStatus.FAILED, DeliveryStatus.GAVE_UP], event__timestamp__gte=since
        ).update(status=DeliveryStatus.PENDING, next_attempt_at=now)
        missed = (
            Event.objects.filter(enterprise_id=record.enterprise_id, timestamp__gte=max(since, record.created_at))
            .exclude(type=EventType.TEST)
            .exclude(deliveries__endpoint=record)
        )
        if record.events:
            missed = missed.filter(type__in=record.events)
        # An event emitted meanwhile may have got its delivery already: that one is no conflict to fail on.
        Delivery.objects.bulk_create(
            (Delivery(endpoint=record, event_id=pk, next_attempt_at=now) for pk in missed.values_list("pk", flat=True)),
            batch_size=500,
            ignore_conflicts=True,
        )
        # Both kinds are now due at exactly `now`, and nothing else of this endpoint is (the endpoint is locked).
        ids = list(
            Delivery.objects.filter(endpoint=record, status=DeliveryStatus.PENDING, next_attempt_at=now)
            .order_by("event__timestamp", "pk")
            .values_list("pk", flat=True)
        )
        _audit(actor, "webhook_endpoint.recovered", record, since=since.isoformat(), resent=len(ids))
    send_after_commit(ids[:RECOVER_SENT_AT_ONCE])
    return len(ids)


def send_test_event(*, actor: Any, endpoint: WebhookEndpoint) -> Event:
    """A `webhook.test` event for this endpoint alone (emit() would send it to every endpoint)."""
    _require(actor, endpoint.enterprise)
    with transaction.atomic():
        record = _locked(endpoint)
        _require_enabled(record)
        now = timezone.now()
        event = Event.objects.create(
            enterprise=record.enterprise,
            type=EventType.TEST,
            timestamp=now,
            data={"webhook_endpoint": record.public_id, "test": True},
        )
        delivery = Delivery.objects.create(endpoint=record, event=event, next_attempt_at=now)
        _audit(actor, "webhook_endpoint.test_sent", record, event_id=event.public_id)
    send_after_commit([delivery.pk])
    return event


__all__ = [
    "SUBSCRIBABLE",
    "delivery_resend",
    "endpoint_create",
    "endpoint_delete",
    "endpoint_disable",
    "endpoint_enable",
    "endpoint_recover",
    "endpoint_rotate_secret",
    "endpoint_update",
    "send_test_event",
]
