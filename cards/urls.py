"""Portal pages for cards and card users, under /cards/ (namespace "cards")."""

from django.urls import path

import cards.api_urls  # noqa: F401  (registers the `iccid` path converter: digits only)
from cards import views

app_name = "cards"

urlpatterns = [
    path("", views.card_list, name="list"),
    path("card-users/", views.card_user_list, name="card_user_list"),
    path("card-users/new/", views.card_user_create, name="card_user_create"),
    path("card-users/<uuid:public_id>/", views.card_user_detail, name="card_user_detail"),
    path("card-users/<uuid:public_id>/reveal/", views.card_user_reveal, name="card_user_reveal"),
    path("card-users/<uuid:public_id>/photos/<str:kind>/", views.card_user_photo, name="card_user_photo"),
    path("<iccid:iccid>/", views.card_detail, name="detail"),
    path("<iccid:iccid>/services/", views.card_services, name="services"),
    path("<iccid:iccid>/<str:action>/", views.card_action, name="action"),
]
