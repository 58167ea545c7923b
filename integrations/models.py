"""The platform channel's records (C3)."""

from integrations.webhooks.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint  # noqa: F401
