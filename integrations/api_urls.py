from django.urls import path

from integrations import api
from integrations.webhooks import api as webhooks

WEBHOOK = "platform/webhooks/<str:public_id>/"

urlpatterns = [
    path("platform/keys/", api.PlatformKeyListCreateView.as_view(), name="api-platform-keys"),
    path("platform/keys/<str:public_id>/rotate/", api.PlatformKeyRotateView.as_view(), name="api-platform-key-rotate"),
    path("platform/keys/<str:public_id>/revoke/", api.PlatformKeyRevokeView.as_view(), name="api-platform-key-revoke"),
    path("platform/webhooks/", webhooks.WebhookEndpointListCreateView.as_view(), name="api-platform-webhooks"),
    path(WEBHOOK, webhooks.WebhookEndpointDetailView.as_view(), name="api-platform-webhook"),
    path(f"{WEBHOOK}disable/", webhooks.WebhookEndpointDisableView.as_view(), name="api-platform-webhook-disable"),
    path(f"{WEBHOOK}enable/", webhooks.WebhookEndpointEnableView.as_view(), name="api-platform-webhook-enable"),
    path(
        f"{WEBHOOK}rotate-secret/",
        webhooks.WebhookEndpointRotateSecretView.as_view(),
        name="api-platform-webhook-rotate-secret",
    ),
    path(f"{WEBHOOK}deliveries/", webhooks.DeliveryAttemptListView.as_view(), name="api-platform-webhook-deliveries"),
    path(
        f"{WEBHOOK}deliveries/<str:attempt_id>/resend/",
        webhooks.DeliveryResendView.as_view(),
        name="api-platform-webhook-resend",
    ),
    path(f"{WEBHOOK}recover/", webhooks.WebhookRecoverView.as_view(), name="api-platform-webhook-recover"),
    path(f"{WEBHOOK}test/", webhooks.WebhookTestView.as_view(), name="api-platform-webhook-test"),
    path("platform/events/", webhooks.EventFeedView.as_view(), name="api-platform-events"),
]
