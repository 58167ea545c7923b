"""REST API for cards and the real-name rule engine (/api/v1/).

Thin views: reads go through cards.inventory.selectors (scoped: invisible means 404),
writes through cards.card_users, and the per-action permission comes from
the capability table, accounts.permissions (visible but not allowed means 403). Domain errors become
`{code, detail, field}` JSON (core.api.exception_handler). A card changes only
through an order (H2, cards.orders.api): the former direct card actions answer
410 order_required, naming the order to file.

Cards are addressed by ICCID, card users and verifications by public_id.
Anonymous requests get 401 (token authentication is tried first, so the
answer carries `WWW-Authenticate: Token`).
"""

from __future__ import annotations

import json
from typing import cast

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import Capability, can
from cards.decisions import decision_body
from cards.inventory import selectors
from cards.inventory.api_base import E400, E403, E403_READ, E404, READ_ERRORS, CardsApiView, require_reads
from cards.inventory.presentation import decision_view
from cards.inventory.serializers import (
    CardDetailSerializer,
    CardFilterSerializer,
    CardListSerializer,
    DecisionSerializer,
    OrderRequiredSerializer,
    RealnameRequirementSerializer,
    RuleEvaluateSerializer,
)
from cards.models import Card, CardStatus, Package
from cards.rules import CardFacts, ServiceLevel, evaluate, is_149_segment
from core.api import E401, is_schema_view, validated
from core.errors import PermissionDenied, ValidationFailed
from core.search import digits_prefix

HISTORY_LIMIT = 100

MSG_MANAGE_DENIED = _("Your role may look at this card but not change it.")


# --- helpers ------------------------------------------------------------------


ICCID = OpenApiParameter("iccid", OpenApiTypes.STR, OpenApiParameter.PATH, description="The card's ICCID.")


def _card_for_action(user, iccid: str) -> Card:
    card = selectors.card_for_user(user, iccid)
    if not can(user, Capability.CARDS_MANAGE, card):
        raise PermissionDenied(MSG_MANAGE_DENIED)
    return card


def card_detail_response(request, card: Card, *, reload: bool = True, status_code=status.HTTP_200_OK):
    if reload:  # after an action: show the card as it is now
        card = selectors.card_for_user(request.user, card.iccid)
    context = {
        "request": request,
        "decision_view": decision_view(card),
        "binding": selectors.live_binding(card),
        "events": list(selectors.card_events(card)[:HISTORY_LIMIT]),
    }
    return Response(CardDetailSerializer(card, context=context).data, status=status_code)


# --- cards ----------------------------------------------------------------------------


class CardCursorPagination(CursorPagination):
    """Keyset pagination on the ICCID: no COUNT(*) and no OFFSET, however many cards there are."""

    ordering = "iccid"
    page_size = 50
    page_size_query_param = None


class CardListView(CardsApiView, generics.ListAPIView):
    queryset = Card.objects.none()
    serializer_class = CardListSerializer
    pagination_class = CardCursorPagination

    def get_queryset(self):
        if is_schema_view(self):
            return Card.objects.none()
        require_reads(self.request.user)
        filters = validated(CardFilterSerializer(data=self.request.query_params))
        queryset = selectors.cards_visible_to(self.request.user)
        if filters.get("enterprise"):
            queryset = queryset.filter(enterprise__public_id=filters["enterprise"])
        if filters.get("status"):
            queryset = queryset.filter(status=filters["status"])
        if filters.get("package"):
            package = Package.objects.filter(code=filters["package"]).only("pk").first()
            if package is None:
                raise ValidationFailed(
                    _("There is no package with this code."), code="unknown_package", field="package"
                )
            queryset = queryset.filter(package_id=package.pk)
        if filters.get("iccid__startswith"):
            queryset = queryset.filter(digits_prefix("iccid", filters["iccid__startswith"]))
        if filters.get("msisdn"):
            queryset = queryset.filter(selectors.msisdn_condition(filters["msisdn"]))
        if filters.get("realname_required") is not None:
            queryset = queryset.filter(realname_required=filters["realname_required"])
        if filters.get("search"):
            queryset = selectors.search_cards(queryset, filters["search"])
        return queryset.order_by("iccid")

    @extend_schema(
        tags=["cards"],
        summary="List the cards the user can see, ordered by ICCID",
        description="Cursor-paginated (50 a page; follow `next`). Filters combine.",
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=CardStatus.values),
            OpenApiParameter("package", OpenApiTypes.STR, description="Package code."),
            OpenApiParameter("iccid__startswith", OpenApiTypes.STR, description="ICCID prefix (digits)."),
            OpenApiParameter(
                "msisdn",
                OpenApiTypes.STR,
                pattern=r"^\d{1,13}$",
                description="MSISDN digits: a whole number (11 or 13 digits) matches exactly, fewer digits match "
                "its start.",
            ),
            OpenApiParameter("realname_required", OpenApiTypes.BOOL, description="Cards that need user real-name."),
            OpenApiParameter("enterprise", OpenApiTypes.UUID, description="Owning enterprise's public_id."),
            OpenApiParameter(
                "search",
                OpenApiTypes.STR,
                description="ICCID or MSISDN digits: a whole one matches exactly, fewer digits match its start.",
            ),
        ],
        responses={200: CardListSerializer(many=True), 400: E400, 401: E401, 403: E403_READ},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class CardDetailView(CardsApiView, APIView):
    @extend_schema(
        tags=["cards"],
        summary="A card: services, package, status, the rule decision, the card user (masked) and the history",
        parameters=[ICCID],
        responses={200: CardDetailSerializer, **READ_ERRORS},
    )
    def get(self, request, iccid):
        return card_detail_response(request, selectors.card_for_user(request.user, iccid), reload=False)


class CardRealnameRequirementView(CardsApiView, APIView):
    @extend_schema(
        tags=["rules"],
        summary="Why this card needs user real-name (or not), and whether it is satisfied",
        description="The rule decision (U0-U4) in the request's language, plus `satisfied` and `basis` (U5).",
        parameters=[ICCID],
        responses={200: RealnameRequirementSerializer, **READ_ERRORS},
    )
    def get(self, request, iccid):
        card = selectors.card_for_user(request.user, iccid)
        return Response(decision_view(card).as_dict())


# H2: a card changes only under an order that records its handler. The direct actions stay as
# routes so that integrators get an answer that points to the order API instead of a 404.
DIRECT_ACTIONS: dict[str, tuple[str, dict]] = {
    "activate": ("new_installation", {}),
    "suspend": ("suspend_resume", {"action": "suspend"}),
    "resume": ("suspend_resume", {"action": "resume"}),
    "cancel": ("cancellation", {}),
    "services": ("service_change", {}),
}
MSG_ORDER_REQUIRED = _(
    "Cards change only through an order that records its handler (rule H2); this action is gone. "
    "File the business as an order instead: POST /api/v1/orders/ with business_type=%(business_type)s"
    "%(parameters)s and the handler."
)
MSG_ORDER_PARAMETERS = _(" and parameters %(parameters)s")


def order_required_body(request, action: str) -> dict:
    business_type, parameters = DIRECT_ACTIONS[action]
    if action == "services":
        shown = '{"data"|"voice"|"sms": "none|directed|non_directed", "package": "<code>"}'
    else:
        shown = json.dumps(parameters) if parameters else ""
    hint = str(MSG_ORDER_PARAMETERS % {"parameters": shown}) if shown else ""
    return {
        "code": "order_required",
        "detail": str(MSG_ORDER_REQUIRED % {"business_type": business_type, "parameters": hint}),
        "business_type": business_type,
        "parameters": parameters,
        "orders_url": request.build_absolute_uri(reverse("api:order-list")),
    }


class CardActionView(CardsApiView, APIView):
    """A former direct card action: 410 order_required, for a card the user may manage."""

    action_name = ""

    def post(self, request, iccid):
        _card_for_action(request.user, iccid)  # 404 / 403 as before: nothing is learned about other cards
        return Response(order_required_body(request, self.action_name), status=status.HTTP_410_GONE)


def _action_view(name: str, summary: str) -> type[CardActionView]:
    business_type, parameters = DIRECT_ACTIONS[name]
    decorated = extend_schema(
        tags=["cards"],
        summary=f"{summary} (gone: file an order)",
        description=(
            "Removed (rule H2: every business on a card records its handler). Always answers 410 "
            f"`order_required` for a card the caller may manage. File the business with `POST /api/v1/orders/`, "
            f"`business_type={business_type}`"
            + (f", parameters `{json.dumps(parameters)}`" if parameters else "")
            + "."
        ),
        deprecated=True,
        parameters=[ICCID],
        request=None,
        responses={410: E410, 401: E401, 403: E403, 404: E404},
    )
    # Three-argument type() is inferred as plain `type`; the class it builds is a CardActionView.
    view = cast(type[CardActionView], type(f"Card{name.title()}View", (CardActionView,), {"action_name": name}))
    view.post = decorated(view.post)  # type: ignore[method-assign]  # the schema is per generated class
    return view


E410 = OpenApiResponse(OrderRequiredSerializer, description="Gone: code order_required; file an order instead.")
CardActivateView = _action_view("activate", "Activate a card")
CardSuspendView = _action_view("suspend", "Suspend an active card")
CardResumeView = _action_view("resume", "Resume a suspended card")
CardCancelView = _action_view("cancel", "Cancel a card for good")
CardServicesView = _action_view("services", "Open or close services, or change the package")


# --- the rule engine -----------------------------------------------------------------


class RuleEvaluateView(CardsApiView, APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        tags=["rules"],
        summary="Evaluate the real-name rules (U0-U4) for card facts",
        description="Pure evaluation: nothing is stored. `exemption` is null when real-name is not required, "
        "`none_possible` under U2. Reasons are in the request's language.",
        request=RuleEvaluateSerializer,
        responses={200: DecisionSerializer, 400: E400, 401: E401},
    )
    def post(self, request):
        data = validated(RuleEvaluateSerializer(data=request.data))
        decision = evaluate(
            CardFacts(
                segment_149=is_149_segment(data["msisdn"]),
                data=ServiceLevel(data["data"]),
                voice=ServiceLevel(data["voice"]),
                sms=ServiceLevel(data["sms"]),
                test_package=data["test_package"],
            )
        )
        return Response(decision_body(decision))


__all__ = [
    "CardActivateView",
    "CardCancelView",
    "CardDetailView",
    "CardListView",
    "CardRealnameRequirementView",
    "CardResumeView",
    "CardServicesView",
    "CardSuspendView",
    "RuleEvaluateView",
]
