"""emit(): the transactional outbox of the platform's events (issue 10 §3).

The Event row and one pending Delivery per enabled endpoint that wants the type are written in the
caller's transaction, so a change that rolls back leaves no event. Only after the commit is the thin
delivery task sent (core.queueing.enqueue): if that send fails, or the worker dies, the beat task
`send_due_deliveries` sends every due delivery again, so nothing is lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.queueing import enqueue
from integrations.webhooks.events_body import body_of  # noqa: F401 - re-exported
from integrations.webhooks.models import Delivery, Event, EventType, WebhookEndpoint
from integrations.webhooks.tasks import deliver

# Keys a payload never carries (thin payloads: ids, statuses and reason codes only).
FORBIDDEN_KEY_PARTS = ("name", "id_number", "photo", "phone", "address", "image", "number_plain")


def _check_thin(data: Mapping[str, Any], path: str = "") -> None:
    for key, value in data.items():
        lowered = str(key).lower()
        if any(part in lowered for part in FORBIDDEN_KEY_PARTS):
            raise ValueError(f"event data may not carry {path}{key}")
        if isinstance(value, Mapping):
            _check_thin(value, f"{path}{key}.")


def send_after_commit(delivery_ids: list[int]) -> None:
    if not delivery_ids:
        return

    def send() -> None:
        for delivery_id in delivery_ids:
            if not enqueue(deliver, delivery_id, model=Delivery, what="webhook delivery"):
                break

    transaction.on_commit(send)


def emit(enterprise: Any, event_type: str, data: Mapping[str, Any]) -> Event:
    """Record the event in the caller's transaction; its deliveries are sent once that transaction commits."""
    EventType(event_type)
    _check_thin(data)
    now = timezone.now()
    with transaction.atomic():
        event = Event.objects.create(enterprise=enterprise, type=event_type, timestamp=now, data=dict(data))
        endpoints = [
            endpoint
            for endpoint in WebhookEndpoint.objects.filter(enterprise=enterprise, enabled=True)
            if endpoint.wants(event_type)
        ]
        deliveries = [Delivery.objects.create(endpoint=e, event=event, next_attempt_at=now) for e in endpoints]
    send_after_commit([d.pk for d in deliveries])
    return event
