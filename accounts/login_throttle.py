"""Login throttling (django-axes), by username and address, so that nobody can lock a person out.

A (username, address) pair is locked after AXES_FAILURE_LIMIT failures; an address as a whole after
LOGIN_IP_FAILURE_LIMIT failures across usernames (guessing many names from one place). A username is
never locked for everyone: failures from one address do not stop its owner logging in from another.
The address comes from core.net.client_ip (AXES_CLIENT_IP_CALLABLE), as in the PII access log.
"""

from __future__ import annotations

import math

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext


class PairAndAddressHandler(AxesDatabaseHandler):
    def _address_failures(self, request) -> int:
        address = getattr(request, "axes_ip_address", None)
        if not address:
            return 0
        attempts = AccessAttempt.objects.filter(ip_address=address)
        if settings.AXES_COOLOFF_TIME is not None:
            attempts = attempts.filter(attempt_time__gte=get_cool_off_threshold(request))
        return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0

    def get_failures(self, request, credentials=None) -> int:
        # Axes compares this with AXES_FAILURE_LIMIT: the pair's own count, or the limit itself once the
        # address has failed too often across usernames.
        pair = super().get_failures(request, credentials)
        if self._address_failures(request) >= settings.LOGIN_IP_FAILURE_LIMIT:
            return max(pair, settings.AXES_FAILURE_LIMIT)
        return pair


def lockout_minutes(request=None) -> int:
    cool_off = get_cool_off(request)
    return max(1, math.ceil(cool_off.total_seconds() / 60)) if cool_off else 0


def lockout_response(request, original_response=None, credentials=None):
    """429 with how long the lock lasts: JSON for the API, the portal's page for people."""
    minutes = lockout_minutes(request)
    duration = ngettext("%(minutes)d minute", "%(minutes)d minutes", minutes) % {"minutes": minutes}
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {
                "code": "locked_out",
                "detail": _("Too many failed attempts from your address. Try again in %(duration)s.")
                % {"duration": duration},
            },
            status=429,
        )
    else:
        response = render(
            request, settings.AXES_LOCKOUT_TEMPLATE, {"duration": duration, "minutes": minutes}, status=429
        )
    if minutes:
        response["Retry-After"] = str(minutes * 60)
    return response
