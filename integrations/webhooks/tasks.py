"""Thin Celery tasks of the callbacks: one attempt of one delivery, and the sweeper that sends due ones."""

from __future__ import annotations

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from core.queueing import enqueue
from integrations.webhooks import deliver as delivery_module
from integrations.webhooks.models import Delivery, DeliveryStatus

# A retry due this soon is sent with a countdown; later ones wait for the sweeper (a long countdown
# outlives the broker's visibility timeout).
COUNTDOWN_MAX_SECONDS = 60


@shared_task(name="integrations.webhooks.deliver", acks_late=True, ignore_result=True, max_retries=0)
def deliver(delivery_id: int) -> None:
    row = delivery_module.attempt_delivery(delivery_id)
    if row is None or row.next_attempt_at is None:
        return
    delay = (row.next_attempt_at - timezone.now()).total_seconds()
    if delay <= COUNTDOWN_MAX_SECONDS:
        deliver.apply_async((delivery_id,), countdown=max(delay, 0))


@shared_task(name="integrations.webhooks.send_due_deliveries", ignore_result=True, max_retries=0)
def send_due_deliveries(limit: int = 500) -> int:
    """Send every due delivery (a retry's time has come, a lost message, a dead worker's claim)."""
    due = (
        Delivery.objects.filter(
            Q(status=DeliveryStatus.PENDING) | Q(status=DeliveryStatus.FAILED),
            next_attempt_at__lte=timezone.now(),
            endpoint__enabled=True,
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    sent = 0
    for delivery_id in due:
        if not enqueue(deliver, delivery_id, model=Delivery, what="webhook delivery"):
            break
        sent += 1
    return sent
