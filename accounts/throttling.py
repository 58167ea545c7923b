"""One budget of full reveals of personal data per user, shared by the pages and the API.

DRF's throttle does the counting (in the default cache, rate `pii_reveal` in
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]); the pages ask the same throttle, so
switching from the API to the browser gives nobody a second budget.

When the cache cannot be reached the budget cannot be counted, so full reveals fail
closed: they are refused with ServiceUnavailable (503 with Retry-After, on pages and the
API alike, core.middleware and core.api) until the cache is back (issue 7 §4.1). Downloads
of documents and photos spend it too (accounts.reveals): an ID-card image shows
the number in full.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle

from core.errors import ServiceUnavailable, Throttled

logger = logging.getLogger(__name__)

CACHE_ERRORS = (RedisError, OSError)
RETRY_AFTER_CACHE_DOWN = 60
MSG_CACHE_DOWN = _(
    "Full views of personal data are paused: the count of full views cannot be checked right now. "
    "Masked data is still shown. Please try again in a minute."
)


class PiiRevealThrottle(UserRateThrottle):
    scope = "pii_reveal"

    def get_cache_key(self, request, view):
        # An actor with no user row (a platform API key) never sees data in full and has no budget here: its
        # call is refused by the permission, and counted by its own rate limit. Counting it would put every
        # such actor in one shared bucket (the user's pk is None).
        user = getattr(request, "user", None)
        if getattr(user, "is_authenticated", False) and getattr(user, "pk", None) is None:
            return None
        return super().get_cache_key(request, view)

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except CACHE_ERRORS as exc:
            logger.error(
                "reveal budget unavailable (%s): full reveals refused until the cache is back", type(exc).__name__
            )
            raise ServiceUnavailable(
                MSG_CACHE_DOWN, code="service_unavailable", retry_after=RETRY_AFTER_CACHE_DOWN
            ) from None


def page_reveal_wait(request) -> int | None:
    """None when this page request may reveal a value in full, else the seconds until it may."""
    throttle = PiiRevealThrottle()
    if throttle.allow_request(request, view=None):
        return None
    wait = throttle.wait()
    return max(1, math.ceil(wait)) if wait is not None else 60


def reveal_wait_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext(
        "Too many full views of personal data. Try again in %(minutes)d minute.",
        "Too many full views of personal data. Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


def reveal_budget_spend(request) -> None:
    """Spend one full view from the user's budget, or raise Throttled (429, with the wait)."""
    wait = page_reveal_wait(request)
    if wait is not None:
        raise Throttled(reveal_wait_message(wait), retry_after=wait)


def with_default_throttles(*extra: type) -> list[Any]:
    """A view's own throttles on top of the API's defaults, never instead of them: the defaults hold the
    per-key rate limit of platform API keys (REST_FRAMEWORK's DEFAULT_THROTTLE_CLASSES), which a bare
    `throttle_classes = [...]` would drop for that view."""
    return [*api_settings.DEFAULT_THROTTLE_CLASSES, *extra]
