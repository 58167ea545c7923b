"""/api/v1/ routes of the enterprise API (included under the "api" namespace).

Ids are matched as plain strings, not with the `uuid` converter: a malformed
id then reaches the selectors, which answer a JSON 404 like for any id the
user may not see, instead of Django's HTML 404 page.
"""

from django.urls import path

from enterprises import api

urlpatterns = [
    path("enterprises/", api.EnterpriseListCreateView.as_view(), name="enterprise-list"),
    # Before <public_id>/, so "lookup" is never taken for an id.
    path("enterprises/lookup/", api.EnterpriseLookupView.as_view(), name="enterprise-lookup"),
    path("enterprises/<str:public_id>/", api.EnterpriseDetailView.as_view(), name="enterprise-detail"),
    path(
        "enterprises/<str:public_id>/documents/",
        api.EnterpriseDocumentsView.as_view(),
        name="enterprise-documents",
    ),
    path("enterprises/<str:public_id>/reveal/", api.EnterpriseRevealView.as_view(), name="enterprise-reveal"),
    path(
        "enterprises/<str:public_id>/change-requests/",
        api.EnterpriseChangeRequestsView.as_view(),
        name="enterprise-change-requests",
    ),
    path("unit-kinds/", api.UnitKindListView.as_view(), name="unit-kind-list"),
    path("documents/<str:public_id>/download/", api.DocumentDownloadView.as_view(), name="document-download"),
    path("change-requests/<str:public_id>/", api.ChangeRequestDetailView.as_view(), name="change-request-detail"),
    path("me/", api.MeView.as_view(), name="me"),
]
