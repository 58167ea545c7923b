"""/api/v1/ routes of the approvals API (included under the "api" namespace).

GET /api/v1/change-requests/{id}/ lives in enterprises.api_urls; the decide and
withdraw actions here have paths of their own, so the two never collide.
"""

from django.urls import path

from approvals import api

urlpatterns = [
    path("exemptions/", api.ExemptionListCreateView.as_view(), name="exemption-list"),
    path("exemptions/<str:public_id>/", api.ExemptionDetailView.as_view(), name="exemption-detail"),
    path("exemptions/<str:public_id>/decide/", api.ExemptionDecideView.as_view(), name="exemption-decide"),
    path("exemptions/<str:public_id>/withdraw/", api.ExemptionWithdrawView.as_view(), name="exemption-withdraw"),
    path(
        "change-requests/<str:public_id>/decide/", api.ChangeRequestDecideView.as_view(), name="change-request-decide"
    ),
    path(
        "change-requests/<str:public_id>/withdraw/",
        api.ChangeRequestWithdrawView.as_view(),
        name="change-request-withdraw",
    ),
    path("reviews/", api.ReviewQueueView.as_view(), name="review-list"),
    path("reviews/<str:public_id>/", api.ReviewDetailView.as_view(), name="review-detail"),
    path("reviews/<str:public_id>/decide/", api.ReviewDecideView.as_view(), name="review-decide"),
]
