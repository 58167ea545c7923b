"""Request-wide limits and headers (issue 7 §3).

RequestLimitsMiddleware refuses a body over REQUEST_MAX_BYTES with 413 before
anything reads it: from its Content-Length, or, for a chunked body without one,
by counting while it reads it (Django itself would read such a body as empty).
It also gives the request its pixel budget (core.limits). ApiNoStoreMiddleware
marks every API response `Cache-Control: no-store`: most carry names, addresses
or ID numbers, and an error is no exception (it may echo what was sent).
ThrottledPageMiddleware turns a spent budget (core.errors.Throttled) raised by a
page view into the 429 page; the API renders it itself (core.api).
"""

from __future__ import annotations

import io
import math

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from core.errors import Throttled
from core.http import no_store
from core.limits import pixel_budget

API_PREFIX = "/api/"
_CHUNK = 64 * 1024


def _too_large(request, limit: int):
    megabytes = max(1, math.floor(limit / (1024 * 1024)))
    detail = _("The request is too large: at most %(limit)d MB may be sent at once. Send fewer or smaller files.") % {
        "limit": megabytes
    }
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
        chunks, total = [], 0
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


class ThrottledPageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, Throttled):
            return None
        response = render(request, "429.html", {"detail": exception.message}, status=429)
        response["Retry-After"] = str(exception.retry_after)
        return no_store(response)
