from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path, reverse_lazy
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import api as account_api
from accounts import views as account_views
from approvals.admin import approvals_site
from portal import api_docs
from portal import views as portal_views

# The API docs pages come from their libraries: the split Swagger view serves its start-up script
# as a file, but both UIs style elements inline and use data: images, and ReDoc runs a blob: worker.
# Only these two pages get that (issue 7 §5). Nothing comes from another host: operator intranets
# reach none (issue 11 §5): templates/drf_spectacular/redoc.html drops ReDoc's Google Fonts, and
# portal.api_docs serves ReDoc's bundle without its one CDN image.
SWAGGER_POLICY = csp_update({"style-src": ["'unsafe-inline'"], "img-src": ["data:"]})
REDOC_POLICY = csp_update({"style-src": ["'unsafe-inline'"], "img-src": ["data:"], "worker-src": ["blob:"]})

api_v1: list[URLPattern | URLResolver] = [
    path("", include("enterprises.api_urls")),
    path("", include("cards.inventory.api_urls")),
    path("", include("cards.card_users.api_urls")),
    path("", include("cards.orders.api_urls")),
    path("", include("cards.imports.api_urls")),
    path("", include("cards.self_service.api_urls")),
    path("", include("approvals.api_urls")),
    path("", include("integrations.api_urls")),
    path("auth/token/", account_api.TokenObtainView.as_view(), name="api-token"),
    path("auth/logout/", account_api.LogoutView.as_view(), name="api-logout"),
    path("auth/tokens/", account_api.TokenListView.as_view(), name="api-tokens"),
    path("auth/tokens/<str:key>/", account_api.TokenRevokeView.as_view(), name="api-token-revoke"),
]

urlpatterns = [
    path("", portal_views.home, name="home"),
    path("dashboard/", portal_views.dashboard_page, name="dashboard"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", account_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", account_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/tokens/", account_views.api_tokens, name="api_tokens"),
    path("notifications/", account_views.notices, name="notices"),
    path("notifications/read/", account_views.notices_read, name="notices_read"),
    # A photo a form kept when it came back with errors (the token is random, no personal data).
    path("uploads/pending/<str:token>/", account_views.pending_upload_preview, name="pending_upload_preview"),
    path(
        "accounts/set-password/<uidb64>/<token>/",
        account_views.PasswordSetConfirmView.as_view(),
        name="password_set_confirm",
    ),
    # The admin sites' own password and logout views would skip the portal's, which revoke the API tokens.
    path("admin/password_change/", RedirectView.as_view(url=reverse_lazy("password_change"))),
    path("approvals/admin/password_change/", RedirectView.as_view(url=reverse_lazy("password_change"))),
    path("admin/logout/", account_views.LogoutView.as_view()),
    path("approvals/admin/logout/", account_views.LogoutView.as_view()),
    path("i18n/", include("django.conf.urls.i18n")),
    path("enterprises/", include("enterprises.urls")),
    path("documents/", include("enterprises.document_urls")),
    path("cards/imports/", include("cards.imports.urls", namespace="card_imports")),
    path("cards/self-service/", include("cards.self_service.urls", namespace="self_service")),
    path("cards/", include("cards.urls")),
    path("orders/", include("cards.orders.urls", namespace="orders")),
    path("exports/", include("portal.export_urls", namespace="exports")),
    path("platform/webhooks/", include("integrations.webhooks.urls", namespace="webhooks")),
    path("platform/keys/", include("integrations.key_urls", namespace="platform_keys")),
    # The self-service link a card user opens (anonymous; the token is the path).
    path("s/", include("cards.self_service.public_urls", namespace="self_service_public")),
    path("approvals/admin/", approvals_site.urls),
    path("approvals/", include("approvals.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SWAGGER_POLICY(SpectacularSwaggerSplitView.as_view(url_name="api-schema")), name="api-docs"),
    path("api/redoc/", REDOC_POLICY(api_docs.LocalRedocView.as_view(url_name="api-schema")), name="api-redoc"),
    path("api/redoc/redoc.standalone.js", api_docs.redoc_bundle, name="api-redoc-bundle"),
]

# A database outage met outside a view is a 503 too (issue 7 §4.2).
handler500 = "core.middleware.server_error"
# A path under /api/ that no route matches answers with the API's JSON error body, not the portal's page.
handler404 = "core.middleware.page_not_found"

admin.site.site_header = _("IoT card real-name portal: operations")
admin.site.site_title = _("IoT card real-name portal")
