"""The per-key rate limit (issue 10 §1): calls with a platform API key, counted per key (PLATFORM_KEY_RATE).

Calls without a key are not counted here. DRF answers 429 with Retry-After through the one error mapping.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from integrations.key_models import PlatformKey


class PlatformKeyThrottle(SimpleRateThrottle):
    scope = "platform_key"

    def get_rate(self) -> str:
        # Read when the throttle is built, so the setting (and override_settings in tests) is what counts.
        return str(settings.PLATFORM_KEY_RATE)

    def get_cache_key(self, request, view) -> str | None:
        key = getattr(request, "auth", None)
        if not isinstance(key, PlatformKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": str(key.public_id)}
