"""Requests to the public link pages per client IP (SELF_SERVICE_LINK_RATE), counted by DRF's throttle
in the default cache like the reveal budget (accounts.throttling)."""

from __future__ import annotations

import logging
import math

from django.utils.translation import gettext_lazy as _
from redis.exceptions import RedisError
from rest_framework.throttling import SimpleRateThrottle

from core.errors import Throttled
from core.net import client_ip

logger = logging.getLogger(__name__)

MSG_TOO_MANY = _("Too many requests from your network. Wait a minute and open the link again.")


class SelfServiceLinkThrottle(SimpleRateThrottle):
    scope = "self_service_link"

    def get_cache_key(self, request, view):
        # The client's address as core.net trusts it (behind the proxy), never a header it chose.
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request) or "unknown"}


def link_page_throttle(request) -> None:
    """Raise Throttled (429 with Retry-After) when this client has opened link pages too often.

    With the cache down the count cannot be kept: the page is served anyway. Unlike a full reveal it shows
    no personal data, and a 256-bit token cannot be guessed by trying, so failing open harms nobody.
    """
    throttle = SelfServiceLinkThrottle()
    try:
        # A page, not a DRF view: the throttle reads only the request (as accounts.throttling's does).
        if throttle.allow_request(request, view=None):  # type: ignore[arg-type]
            return
    except (RedisError, OSError) as exc:
        logger.warning("self-service link throttle unavailable (%s): request let through", type(exc).__name__)
        return
    wait = throttle.wait()
    raise Throttled(MSG_TOO_MANY, retry_after=max(1, math.ceil(wait)) if wait is not None else 60)


__all__ = ["link_page_throttle"]
