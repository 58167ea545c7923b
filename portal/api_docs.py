"""The ReDoc page, with nothing loaded from another host (issue 11 §5).

Operator intranets reach no CDN. drf-spectacular-sidecar serves ReDoc's bundle locally, but the
bundle still shows a footer logo from cdn.redoc.ly, which the page's CSP refuses (a violation on every
load). The bundle is served here with that one address swapped for an empty inline image; the page
template (templates/drf_spectacular/redoc.html) drops drf-spectacular's Google Fonts links.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe
from drf_spectacular.views import SpectacularRedocView

REDOC_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
EXTERNAL_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
# An empty SVG: the page's policy allows data: images, and the footer link keeps its words.
LOCAL_LOGO = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/%3E"


@lru_cache(maxsize=1)
def redoc_bundle_bytes() -> bytes:
    found = finders.find(REDOC_BUNDLE)
    assert isinstance(found, str), "drf_spectacular_sidecar is installed (INSTALLED_APPS)"
    text = Path(found).read_text(encoding="utf-8")
    return text.replace(EXTERNAL_LOGO, LOCAL_LOGO).encode()


@require_safe
@cache_control(public=True, max_age=24 * 3600)
def redoc_bundle(request):
    return HttpResponse(redoc_bundle_bytes(), content_type="text/javascript; charset=utf-8")


class LocalRedocView(SpectacularRedocView):
    """SpectacularRedocView on the bundle above."""

    @staticmethod
    def _redoc_standalone() -> str:
        return reverse("api-redoc-bundle")
