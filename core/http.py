"""HTTP helpers shared by pages and API views."""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.http import FileResponse
from django.views.decorators.http import require_http_methods
from django_permissions_policy.decorators import permissions_policy_override

NO_STORE = "no-store, private"

# A page with a form: shown by GET (and HEAD), sent by POST.
require_form_methods = require_http_methods(["GET", "HEAD", "POST"])


# Paths whose segments are secrets: a self-service link's token (/s/<token>/...) and a set-password link.
# They are masked wherever such a path starts in the text: alone, or inside a request line ("GET /s/... HTTP/1.1").
_SECRET_PATHS = (
    (re.compile(r"(^|\s)/s/[^/\s]+"), r"\1/s/<token>"),
    (re.compile(r"(^|\s)/accounts/set-password/[^/\s]+/[^/\s]+"), r"\1/accounts/set-password/<uid>/<token>"),
)


def loggable_path(path: str) -> str:
    """A request path, or a log text holding one, as a log line may show it: the secret segments masked."""
    for pattern, replacement in _SECRET_PATHS:
        path = pattern.sub(replacement, path)
    return path


class MaskSecretPaths(logging.Filter):
    """On Django's request and server loggers (settings.LOGGING): the paths they log ("Internal Server
    Error: %s", the runserver access line) pass through loggable_path before any handler sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(loggable_path(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


def no_store(response):
    """Responses that carry personal data must not be cached anywhere."""
    response["Cache-Control"] = NO_STORE
    return response


def private_file_response(handle, *, content_type: str, filename: str, as_attachment: bool):
    """A stored document or photo: never cached, never sniffed, never run as a page."""
    response = FileResponse(handle, content_type=content_type, as_attachment=as_attachment, filename=filename)
    no_store(response)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def camera_allowed(view):
    """The page takes a live photo: the Permissions-Policy lets this site use the camera there
    (settings.PERMISSIONS_POLICY denies it everywhere else)."""
    return permissions_policy_override({**settings.PERMISSIONS_POLICY, "camera": ["self"]})(view)
