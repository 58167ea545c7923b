"""Portal pages of cards under /cards/; included by cards.urls into the "cards" namespace."""

from django.urls import path

from cards.inventory import picker_views, views
from cards.inventory.api_urls import IccidConverter  # noqa: F401  (registers the `iccid` path converter)

urlpatterns = [
    path("", views.card_list, name="list"),
    path("picker/", picker_views.card_picker, name="picker"),
    path("<iccid:iccid>/", views.card_detail, name="detail"),
    path("<iccid:iccid>/services/", views.card_services, name="services"),
    path("<iccid:iccid>/<str:action>/", views.card_action, name="action"),
]
