"""The public link, under /s/ (namespace "self_service_public"): the token is in the path, never in a query."""

from django.urls import path

from cards.self_service import views

app_name = "self_service_public"

urlpatterns = [
    path("<str:token>/", views.public_link, name="link"),
    path("<str:token>/qr.svg", views.public_qr_svg, name="qr_svg"),
    path("<str:token>/qr.png", views.public_qr_png, name="qr_png"),
    path("<str:token>/poster/", views.public_poster, name="poster"),
]
