"""What people see when something fails: a 503 while a service is down, the portal's own error pages.

ServiceUnavailableMiddleware turns a lost database connection (issue 7 §4.2) and a
core.errors.ServiceUnavailable (e.g. the reveal counter's cache is down) into 503 with
Retry-After: JSON on the API, a page that needs no database on the portal. Never a stack trace.

PortalErrorPagesMiddleware keeps the portal's own 403, 404 and 500 pages under DEBUG (`make run`),
where Django would show its technical pages (the URL list, settings, tracebacks) in English.
Tracebacks still go to the console log. DEBUG_TECHNICAL_ERROR_PAGES=1 brings Django's pages back.
"""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.db import InterfaceError, OperationalError, connections
from django.http import Http404, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views import defaults

from core.errors import ServiceUnavailable
from core.http import no_store

logger = logging.getLogger(__name__)
request_logger = logging.getLogger("django.request")

API_PREFIX = "/api/"


def database_unreachable() -> bool:
    """True when a database connection of this thread could not be made or has broken.

    Tells an outage (connect refused, server gone) from errors of a working connection, such
    as a missing table or a deadlock, which stay 500s.
    """
    for connection in connections.all(initialized_only=True):
        raw = connection.connection
        if raw is None or getattr(raw, "closed", False):
            return True
    return False


def is_database_outage(exc: BaseException | None) -> bool:
    return isinstance(exc, (OperationalError, InterfaceError)) and database_unreachable()


def service_unavailable_response(request, *, message=None, retry_after: int | None = None) -> HttpResponse:
    """503 with Retry-After. Renders without the database: no session, no user, no context processors."""
    retry_after = retry_after or settings.SERVICE_UNAVAILABLE_RETRY_AFTER
    message = message or _("The service is temporarily unavailable. Please try again in a moment.")
    if request.path.startswith(API_PREFIX):
        response = JsonResponse({"code": "service_unavailable", "detail": str(message)}, status=503)
    else:
        html = render_to_string("503.html", {"message": message, "retry_after": retry_after})
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(retry_after)
    return no_store(response)


class OutageGuardMiddleware:
    """Outermost: a middleware that fails on the lost database (the session, the user, axes) has
    already become a 500 inside Django's per-middleware exception wrapper, technical under DEBUG;
    while the database is unreachable that answer becomes the 503 too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 500 and database_unreachable():
            logger.error("database unavailable on %s %s", request.method, request.path)
            return service_unavailable_response(request)
        return response


class ServiceUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, ServiceUnavailable):
            return service_unavailable_response(request, message=exception.message, retry_after=exception.retry_after)
        if is_database_outage(exception):
            # The class only: the message can hold the database host and user.
            logger.error("database unavailable (%s) on %s %s", type(exception).__name__, request.method,
                         request.path)
            return service_unavailable_response(request)
        return None


def server_error(request):
    """handler500: a database outage met outside a view (e.g. saving the session) is a 503 too."""
    exc = sys.exc_info()[1]
    if isinstance(exc, ServiceUnavailable):
        return service_unavailable_response(request, message=exc.message, retry_after=exc.retry_after)
    if is_database_outage(exc):
        return service_unavailable_response(request)
    return defaults.server_error(request)


class PortalErrorPagesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    @property
    def active(self) -> bool:
        # Without DEBUG, Django's own handlers render these templates already.
        return settings.DEBUG and not settings.DEBUG_TECHNICAL_ERROR_PAGES

    def __call__(self, request):
        response = self.get_response(request)
        # No view matched: Django answered with its technical 404 (the URL list).
        if self.active and response.status_code == 404 and request.resolver_match is None:
            return defaults.page_not_found(request, Http404())
        return response

    def process_exception(self, request, exception):
        if not self.active:
            return None
        if isinstance(exception, Http404):
            return defaults.page_not_found(request, exception)
        if isinstance(exception, PermissionDenied):
            return defaults.permission_denied(request, exception)
        if isinstance(exception, (BadRequest, SuspiciousOperation)):
            return defaults.bad_request(request, exception)
        request_logger.error("Internal Server Error: %s", request.path, exc_info=exception)
        return server_error(request)
