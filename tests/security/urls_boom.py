"""The portal's URLs plus one view that fails, for the error-page tests."""

from django.urls import path

from config.urls import urlpatterns as portal_urlpatterns


def boom(request):
    raise RuntimeError("an unexpected failure in a view")


urlpatterns = [path("boom/", boom), *portal_urlpatterns]
