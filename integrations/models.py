"""The platform channel's records (C3)."""

from integrations.key_models import IdempotencyRecord, PlatformKey

__all__ = ["IdempotencyRecord", "PlatformKey"]
