from django.urls import path

from integrations import api

urlpatterns = [
    path("platform/keys/", api.PlatformKeyListCreateView.as_view(), name="api-platform-keys"),
    path("platform/keys/<str:public_id>/rotate/", api.PlatformKeyRotateView.as_view(), name="api-platform-key-rotate"),
    path("platform/keys/<str:public_id>/revoke/", api.PlatformKeyRevokeView.as_view(), name="api-platform-key-revoke"),
]
