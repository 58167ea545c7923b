"""Portal pages of platform API keys, under /platform/keys/ (namespace "platform_keys")."""

from django.urls import path

from integrations import key_views

app_name = "platform_keys"

urlpatterns = [
    path("", key_views.key_mine, name="mine"),
    path("enterprise/<uuid:public_id>/", key_views.key_list, name="list"),
    path("enterprise/<uuid:public_id>/sandbox/reset/", key_views.sandbox_reset_view, name="sandbox_reset"),
    path("<uuid:public_id>/rotate/", key_views.key_rotate, name="rotate"),
    path("<uuid:public_id>/revoke/", key_views.key_revoke, name="revoke"),
]
