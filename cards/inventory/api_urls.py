"""/api/v1/ routes of cards and the rule engine ("api" namespace).

An ICCID in a path is digits only (the `iccid` converter), so these routes
never shadow other routes under cards/ (e.g. cards/imports/); an unknown ICCID
gets a JSON 404, like a card the user may not see. Other ids are plain strings
that reach the selectors, so a malformed one is a JSON 404 too.
"""

from django.urls import path, register_converter

from cards.inventory import api


class IccidConverter:
    regex = "[0-9]{1,24}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value) -> str:
        return str(value)


register_converter(IccidConverter, "iccid")

urlpatterns = [
    path("cards/", api.CardListView.as_view(), name="card-list"),
    path("cards/<iccid:iccid>/", api.CardDetailView.as_view(), name="card-detail"),
    path(
        "cards/<iccid:iccid>/realname-requirement/",
        api.CardRealnameRequirementView.as_view(),
        name="card-realname-requirement",
    ),
    path("cards/<iccid:iccid>/activate/", api.CardActivateView.as_view(), name="card-activate"),
    path("cards/<iccid:iccid>/suspend/", api.CardSuspendView.as_view(), name="card-suspend"),
    path("cards/<iccid:iccid>/resume/", api.CardResumeView.as_view(), name="card-resume"),
    path("cards/<iccid:iccid>/cancel/", api.CardCancelView.as_view(), name="card-cancel"),
    path("cards/<iccid:iccid>/services/", api.CardServicesView.as_view(), name="card-services"),
    path("rules/evaluate/", api.RuleEvaluateView.as_view(), name="rules-evaluate"),
]
