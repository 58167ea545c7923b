"""What people see when something fails: the pages' one mapping of domain errors, a 503 while a service
is down, the portal's own error pages.

DomainErrorMiddleware is the page side of the one error mapping (the API's is core.api.exception_handler):
a core.errors.DomainError that a page view lets through becomes its page with its status: 404 and 403 the
portal's own, 429 (a spent budget) and 503 (a service down, e.g. the reveal counter's cache) with
Retry-After, any other refusal the error page with its message. Views therefore catch a domain error only
where they show it on a form (core.forms.add_domain_error). It also turns a lost database connection
(issue 7 §4.2) into 503 with Retry-After: JSON on the API, a page that needs no database on the portal.
Never a stack trace.

PortalErrorPagesMiddleware keeps the portal's own 403, 404 and 500 pages under DEBUG (`make run`),
where Django would show its technical pages (the URL list, settings, tracebacks) in English.
Tracebacks still go to the console log. DEBUG_TECHNICAL_ERROR_PAGES=1 brings Django's pages back.

Request-wide limits and headers (issue 7 §3).

RequestLimitsMiddleware refuses a body over REQUEST_MAX_BYTES with 413 before
anything reads it: from its Content-Length, or, for a chunked body without one,
by counting while it reads it (Django itself would read such a body as empty).
It also gives the request its pixel budget (core.limits). ApiNoStoreMiddleware
marks every API response `Cache-Control: no-store`: most carry names, addresses
or ID numbers, and an error is no exception (it may echo what was sent).
ApiQueryParametersMiddleware refuses a query parameter that the API operation
does not document (issue 12 §1.6, core.api.check_query_parameters).
"""

from __future__ import annotations

import io
import logging
import math
import sys

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.db import InterfaceError, OperationalError, connections
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import defaults

from core.api import check_query_parameters
from core.errors import DomainError, ServiceUnavailable
from core.http import loggable_path, no_store
from core.limits import pixel_budget

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
    response: HttpResponse
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
            logger.error("database unavailable on %s %s", request.method, loggable_path(request.path))
            return service_unavailable_response(request)
        return response


ERROR_TEMPLATES = {403: "403.html", 404: "404.html", 429: "429.html"}


def _back_url(request) -> str | None:
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()}):
        return referer
    return None


def domain_error_response(request, error: DomainError) -> HttpResponse:
    """A domain error a page view let through, as the page its status calls for."""
    if isinstance(error, ServiceUnavailable):
        return service_unavailable_response(request, message=error.message, retry_after=error.retry_after)
    if request.path_info.startswith(API_PREFIX):  # a plain view under /api/ (DRF views answer themselves)
        response: HttpResponse = JsonResponse(error.body(), status=error.status_code)
    else:
        template = ERROR_TEMPLATES.get(error.status_code, "error.html")
        context = {"exception": error.message, "detail": error.message, "back_url": _back_url(request)}
        response = render(request, template, context, status=error.status_code)
    for name, value in error.headers().items():
        response[name] = value
    return no_store(response)


class DomainErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DomainError):
            return domain_error_response(request, exception)
        if is_database_outage(exception):
            # The class only: the message can hold the database host and user.
            logger.error(
                "database unavailable (%s) on %s %s",
                type(exception).__name__,
                request.method,
                loggable_path(request.path),
            )
            return service_unavailable_response(request)
        return None


def page_not_found(request, exception=None):
    """handler404: under /api/ a path no route matches is the API's JSON error, as every other API error
    is (a client parses one shape); elsewhere the portal's page."""
    if request.path.startswith(API_PREFIX):
        return no_store(JsonResponse({"code": "not_found", "detail": _("Not found.")}, status=404))
    return defaults.page_not_found(request, exception)


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
            return page_not_found(request, Http404())
        return response

    def process_exception(self, request, exception):
        if not self.active:
            return None
        if isinstance(exception, Http404):
            return page_not_found(request, exception)
        if isinstance(exception, PermissionDenied):
            return defaults.permission_denied(request, exception)
        if isinstance(exception, (BadRequest, SuspiciousOperation)):
            return defaults.bad_request(request, exception)
        request_logger.error("Internal Server Error: %s", loggable_path(request.path), exc_info=exception)
        return server_error(request)


_CHUNK = 64 * 1024


def _too_large(request, limit: int):
    megabytes = max(1, math.floor(limit / (1024 * 1024)))
    detail = _("The request is too large: at most %(limit)d MB may be sent at once. Send fewer or smaller files.") % {
        "limit": megabytes
    }
    response: HttpResponse
    if request.path_info.startswith(API_PREFIX):
        response = JsonResponse({"code": "request_too_large", "detail": detail}, status=413)
    else:
        response = render(request, "413.html", {"detail": detail}, status=413)
    return no_store(response)


def _declared_length(request) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


class RequestLimitsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.REQUEST_MAX_BYTES
        length = _declared_length(request)
        if length is not None and length > limit:
            return _too_large(request, limit)
        if length is None and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            body = self._read_counted(request, limit)
            if body is None:
                return _too_large(request, limit)
            # From here on the request reads like one that declared its length.
            request.META["CONTENT_LENGTH"] = str(len(body))
            request._stream = io.BytesIO(body)
        with pixel_budget(settings.UPLOAD_MAX_REQUEST_PIXELS):
            return self.get_response(request)

    @staticmethod
    def _read_counted(request, limit: int) -> bytes | None:
        stream = request.META.get("wsgi.input")
        if stream is None:
            return b""
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = stream.read(min(_CHUNK, limit + 1 - total))
            if not chunk:
                return b"".join(chunks)
            total += len(chunk)
            if total > limit:
                return None
            chunks.append(chunk)


class ApiNoStoreMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path_info.startswith(API_PREFIX):
            no_store(response)
        return response


class ApiQueryParametersMiddleware:
    """An API request with a query parameter its operation does not document gets 400
    unknown_query_parameter, for every DRF view at once: a misspelt filter (`?statu=active`) would
    otherwise answer the whole unfiltered list as if it were the filtered one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        view_class = getattr(view_func, "cls", None)  # APIView.as_view() names its class
        if view_class is None or not request.path_info.startswith(API_PREFIX) or not request.GET:
            return None
        try:
            check_query_parameters(view_class, request.method or "GET", request.GET.keys())
        except DomainError as error:
            return domain_error_response(request, error)
        return None
