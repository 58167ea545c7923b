"""Celery tasks of the approvals app. Thin: ids in, state re-read, safe to repeat."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from approvals.models import Notification
from approvals.notifications import notification_send
from core.queueing import requeue_stale


@shared_task(acks_late=True, reject_on_worker_lost=True, max_retries=0, soft_time_limit=60, time_limit=90)
def send_notification(notification_id: int) -> str:
    """Send one outbox message; an unsent one is sent again by requeue_unsent_notifications."""
    return notification_send(notification_id=notification_id)


@shared_task(acks_late=True, max_retries=0, soft_time_limit=60, time_limit=90)
def requeue_unsent_notifications() -> int:
    """Beat: send again the emails still unsent long after their task was sent (issue 7 §4.1).
    A second message for an email already sent, or being sent, does nothing (notification_send)."""
    unsent = Notification.objects.filter(sent_at__isnull=True, attempts__lt=settings.NOTIFICATION_MAX_ATTEMPTS)
    return requeue_stale(unsent, send_notification, what="notification")
