"""/api/v1/ routes of card users and the verification status of their registration ("api" namespace).

Ids are plain strings that reach the selectors, so a malformed one is a JSON 404, like an id the
user may not see.
"""

from django.urls import path

from cards.card_users import api

urlpatterns = [
    path("card-users/", api.CardUserListCreateView.as_view(), name="card-user-list"),
    path("card-users/<str:public_id>/", api.CardUserDetailView.as_view(), name="card-user-detail"),
    path("card-users/<str:public_id>/reveal/", api.CardUserRevealView.as_view(), name="card-user-reveal"),
    path(
        "card-users/<str:public_id>/photos/<str:kind>/",
        api.CardUserPhotoView.as_view(),
        name="card-user-photo",
    ),
    path("verifications/<str:public_id>/", api.VerificationStatusView.as_view(), name="verification-detail"),
]
