"""One budget of full reveals of personal data per user, shared by the pages and the API.

DRF's throttle does the counting (in the default cache, rate `pii_reveal` in
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]); the pages ask the same throttle, so
switching from the API to the browser gives nobody a second budget. Downloads
of documents and photos spend it too (accounts.reveals): an ID-card image shows
the number in full.
"""

from __future__ import annotations

import math

from django.utils.translation import ngettext
from rest_framework.throttling import UserRateThrottle

from core.errors import Throttled


class PiiRevealThrottle(UserRateThrottle):
    scope = "pii_reveal"


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
