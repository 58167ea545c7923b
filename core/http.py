"""HTTP helpers shared by pages and API views."""

from __future__ import annotations

from django.conf import settings
from django.http import FileResponse
from django.views.decorators.http import require_http_methods
from django_permissions_policy.decorators import permissions_policy_override

NO_STORE = "no-store, private"

# A page with a form: shown by GET (and HEAD), sent by POST.
require_form_methods = require_http_methods(["GET", "HEAD", "POST"])


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
