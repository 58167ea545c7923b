"""The platform channel's records (C3)."""

from integrations.key_models import IdempotencyRecord, PlatformKey
from integrations.webhooks.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint

__all__ = ["Delivery", "DeliveryAttempt", "Event", "IdempotencyRecord", "PlatformKey", "WebhookEndpoint"]
