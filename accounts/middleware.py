"""Sessions end after SESSION_IDLE_TIMEOUT_MINUTES without a request, and SESSION_ABSOLUTE_TIMEOUT_HOURS
after the login whatever happens.

A middleware rather than SESSION_SAVE_EVERY_REQUEST: it can tell the person why they are on the login
page again, it enforces the absolute limit (a cookie age renewed on every request has none), and it
writes the session at most once a minute instead of on every request.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.utils import timezone
from django.utils.translation import gettext as _

LAST_SEEN = "_last_seen"
LOGGED_IN_AT = "_logged_in_at"
# Activity is written back at most this often (seconds): idle time is exact to within it.
TOUCH_EVERY = 60


class SessionTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            self._check(request)
        return self.get_response(request)

    def _check(self, request) -> None:
        session = request.session
        now = timezone.now().timestamp()
        last_seen = session.get(LAST_SEEN)
        logged_in_at = session.get(LOGGED_IN_AT)
        if last_seen is None or logged_in_at is None:
            # A session from before this middleware, or a fresh login: start counting now.
            session[LAST_SEEN] = now
            session.setdefault(LOGGED_IN_AT, now)
            return
        idle_limit = settings.SESSION_IDLE_TIMEOUT_MINUTES * 60
        absolute_limit = settings.SESSION_ABSOLUTE_TIMEOUT_HOURS * 3600
        if now - last_seen > idle_limit:
            self._end(
                request,
                _("You were logged out after %(minutes)d minutes of inactivity. Please log in again.")
                % {"minutes": settings.SESSION_IDLE_TIMEOUT_MINUTES},
            )
        elif now - logged_in_at > absolute_limit:
            self._end(
                request,
                _("Your session reached its limit of %(hours)d hours. Please log in again.")
                % {"hours": settings.SESSION_ABSOLUTE_TIMEOUT_HOURS},
            )
        elif now - last_seen >= TOUCH_EVERY:
            session[LAST_SEEN] = now

    @staticmethod
    def _end(request, message: str) -> None:
        logout(request)  # flushes the session and sets an AnonymousUser
        messages.info(request, message)


def stamp_login(sender, request, user, **kwargs) -> None:
    """On `user_logged_in`: the session's clocks start at the login (session bookkeeping, no business)."""
    session = getattr(request, "session", None)
    if session is not None:
        now = timezone.now().timestamp()
        session[LOGGED_IN_AT] = now
        session[LAST_SEEN] = now
