"""Celery finds the platform channel's tasks here (autodiscover)."""

from celery import shared_task

from integrations import idempotency
from integrations.webhooks.tasks import deliver, send_due_deliveries  # noqa: F401


@shared_task(name="integrations.purge_idempotency_records", ignore_result=True, max_retries=0)
def purge_idempotency_records() -> int:
    """Delete the Idempotency-Key records older than their 24 hours (a reuse deletes its own lazily too)."""
    return idempotency.purge_expired()
