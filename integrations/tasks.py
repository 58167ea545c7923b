"""Celery finds the platform channel's tasks here (autodiscover)."""

from integrations.webhooks.tasks import deliver, send_due_deliveries  # noqa: F401
