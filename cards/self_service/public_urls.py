"""The public link, under /s/ (namespace "self_service_public"): the token is in the path, never in a query."""

from django.urls import path

from cards.self_service import phone_views, views

app_name = "self_service_public"

urlpatterns = [
    path("<str:token>/", phone_views.phone_start, name="link"),
    path("<str:token>/step/<str:step>/", phone_views.phone_step, name="step"),
    path("<str:token>/restart/", phone_views.phone_restart, name="restart"),
    path("<str:token>/status/", phone_views.phone_status_page, name="status"),
    path("<str:token>/qr.svg", views.public_qr_svg, name="qr_svg"),
    path("<str:token>/qr.png", views.public_qr_png, name="qr_png"),
    path("<str:token>/poster/", views.public_poster, name="poster"),
]
