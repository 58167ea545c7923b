"""Sending work to the Celery broker without letting a broker outage strand it (issue 7 §4.1).

A record that waits for a task (a verification, a card import, an email in the outbox) is
committed first, then its task is sent. When the broker is unreachable the send fails fast
(CELERY_BROKER_CONNECTION_TIMEOUT, CELERY_PUBLISH_MAX_RETRIES): the failure is logged with the
record's id only, the request is answered as usual with the record pending, and a beat task
(`requeue_stale`) sends it again once the broker is back. Every task returns quietly for work
already done or in flight, so a second message never does the work twice.

The record's model needs `created_at` and a nullable `queued_at` (when its task was last sent).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from kombu.exceptions import KombuError

logger = logging.getLogger(__name__)


def enqueue(task, record_id: int, *, model, what: str) -> bool:
    """Send `task(record_id)`; False (logged, ids only) when the broker cannot take it."""
    try:
        task.delay(record_id)
    except KombuError as exc:
        logger.warning(
            "%s %s not queued (%s): it stays pending and is queued again later", what, record_id, type(exc).__name__
        )
        return False
    model.objects.filter(pk=record_id).update(queued_at=timezone.now())
    return True


def stale(queryset: QuerySet, *, older_than: float | None = None) -> QuerySet:
    """Records of `queryset` whose task was last sent (or, never sent, that were created) too long ago."""
    seconds = settings.WORK_REQUEUE_AFTER if older_than is None else older_than
    cutoff = timezone.now() - timedelta(seconds=seconds)
    return queryset.filter(Q(queued_at__lte=cutoff) | Q(queued_at__isnull=True, created_at__lte=cutoff))


def requeue_stale(queryset: QuerySet, task, *, what: str, older_than: float | None = None, limit: int = 500) -> int:
    """Send the task of every stale record again; stops at the first broker failure. Returns how many were sent."""
    sent = 0
    for record_id in stale(queryset, older_than=older_than).order_by("pk").values_list("pk", flat=True)[:limit]:
        if not enqueue(task, record_id, model=queryset.model, what=what):
            break
        sent += 1
    if sent:
        logger.info("%d stale %s(s) queued again", sent, what)
    return sent
