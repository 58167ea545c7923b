"""Requests to the public link pages per client IP (SELF_SERVICE_LINK_RATE), counted by DRF's throttle
in the default cache like the reveal budget (accounts.throttling)."""

from __future__ import annotations

import logging
import math

from django.conf import settings
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


MSG_TOO_MANY_SESSIONS = _("Too many registrations were started here. Wait a while and open the link again.")
MSG_TOO_MANY_SUBMITS = _("Too many registrations were submitted here. Wait a while and try again.")


class PhoneFlowThrottle(SimpleRateThrottle):
    """One count of the phone flow (settings.SELF_SERVICE_RATES[name]) for one client IP or one link."""

    def __init__(self, name: str, ident: str) -> None:
        self.scope, self.ident = f"self_service_{name}", ident
        self.rate = settings.SELF_SERVICE_RATES[name]  # read at call time, so that a test can set it
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.ident}


def phone_flow_throttle(request, link, what: str) -> None:
    """Raise Throttled when this client IP, or this link from anywhere, started (what="session") or submitted
    (what="submit") too many registrations; fail open with the cache down, as link_page_throttle does."""
    message = MSG_TOO_MANY_SESSIONS if what == "session" else MSG_TOO_MANY_SUBMITS
    for throttle in (
        PhoneFlowThrottle(f"{what}_ip", client_ip(request) or "unknown"),
        PhoneFlowThrottle(f"{what}_link", str(link.public_id)),
    ):
        try:
            if throttle.allow_request(request, view=None):  # type: ignore[arg-type]
                continue
        except (RedisError, OSError) as exc:
            logger.warning("self-service %s throttle unavailable (%s): let through", what, type(exc).__name__)
            continue
        wait = throttle.wait()
        raise Throttled(message, retry_after=max(1, math.ceil(wait)) if wait is not None else 60)


__all__ = ["link_page_throttle", "phone_flow_throttle"]
