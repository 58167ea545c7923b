"""/api/v1/ routes of self-service links (included under the "api" namespace).

Ids are matched as plain strings: a malformed id reaches the selector and gets the same JSON 404 as an id
the user may not see.
"""

from django.urls import path

from cards.self_service import api

urlpatterns = [
    path("self-service/links/", api.SelfServiceLinkListCreateView.as_view(), name="self-service-link-list"),
    path(
        "self-service/links/<str:public_id>/revoke/",
        api.SelfServiceLinkRevokeView.as_view(),
        name="self-service-link-revoke",
    ),
]
