"""REST API of self-service links (/api/v1/self-service/links/), a contract customer platforms code against.

Create answers the link's URL and QR code URLs, which hold the token: that answer is the only one that
can, because only a keyed hash of the token is stored. Lists and revocations answer the same fields with
`url`, `qr_svg` and `qr_png` null. Roles that manage no links (approvers, ops) get 403; another
enterprise's or province's links and enterprises are 404.
"""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from cards.models import SELF_SERVICE_LINK_DEFAULT_DAYS, SELF_SERVICE_LINK_MAX_DAYS, SelfServiceLink
from cards.self_service import selectors, services
from cards.self_service.card_lists import MAX_CARDS
from core.api import E401, absolute_url, error_response, is_schema_view, validated
from core.http import no_store
from core.idempotency import Idempotent
from enterprises import selectors as enterprise_selectors

TOKEN_ONLY_AT_CREATION = (
    " Only at creation: the portal keeps a keyed hash of the link's token, never the token, so list and "
    "revoke answers say null."
)


def link_urls(request, token: str) -> dict[str, str]:
    """The absolute URLs of a link's page and QR codes: all under the token's own path."""
    return {
        "url": absolute_url(request, reverse("self_service_public:link", kwargs={"token": token})),
        "qr_svg": absolute_url(request, reverse("self_service_public:qr_svg", kwargs={"token": token})),
        "qr_png": absolute_url(request, reverse("self_service_public:qr_png", kwargs={"token": token})),
    }


class SelfServiceLinkSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True, help_text="The link's id.")
    url = serializers.SerializerMethodField(
        help_text="The link's absolute short URL, with its token in the path." + TOKEN_ONLY_AT_CREATION
    )
    qr_svg = serializers.SerializerMethodField(
        help_text="Absolute URL of the link's QR code as SVG." + TOKEN_ONLY_AT_CREATION
    )
    qr_png = serializers.SerializerMethodField(
        help_text="Absolute URL of the link's QR code as PNG." + TOKEN_ONLY_AT_CREATION
    )
    expires_at = serializers.DateTimeField(read_only=True)
    max_uses = serializers.IntegerField(read_only=True)
    uses = serializers.IntegerField(read_only=True)
    status = serializers.ChoiceField(
        choices=["active", "revoked", "expired", "exhausted"],
        read_only=True,
        help_text="active, revoked, expired (past expires_at) or exhausted (uses reached max_uses).",
    )

    def _urls(self, link: SelfServiceLink) -> dict[str, str] | None:
        token = self.context.get("tokens", {}).get(link.pk)
        return link_urls(self.context.get("request"), token) if token else None

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_url(self, link: SelfServiceLink) -> str | None:
        urls = self._urls(link)
        return urls["url"] if urls else None

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_qr_svg(self, link: SelfServiceLink) -> str | None:
        urls = self._urls(link)
        return urls["qr_svg"] if urls else None

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_qr_png(self, link: SelfServiceLink) -> str | None:
        urls = self._urls(link)
        return urls["qr_png"] if urls else None


class SelfServiceLinkCreateSerializer(serializers.Serializer):
    enterprise = serializers.CharField(help_text="The enterprise's public_id.")
    # The contract's field name; the stubs see Field.label (the field's own label) in it.
    label = serializers.CharField(  # type: ignore[assignment]
        help_text="What the link is for, at most 100 characters.", allow_blank=True
    )
    iccids = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        allow_empty=True,
        help_text=f"The cards the link covers, as ICCIDs or MSISDNs of the enterprise's cards (at most {MAX_CARDS}). "
        "Without it the link covers the enterprise's cards that await real-name. Any number that is not a card "
        "of the enterprise refuses the request (400 unknown_cards) and nothing is created.",
    )
    # Bounds are the service's (400 invalid_expires_in_days / invalid_max_uses), not the serializer's.
    expires_in_days = serializers.IntegerField(
        required=False,
        default=SELF_SERVICE_LINK_DEFAULT_DAYS,
        help_text=f"Days until the link expires: 1 to {SELF_SERVICE_LINK_MAX_DAYS}, "
        f"{SELF_SERVICE_LINK_DEFAULT_DAYS} by default.",
    )
    max_uses = serializers.IntegerField(help_text="How many registrations the link allows, at least 1.")


E400 = error_response(
    "Refused, nothing created: `code` is required, invalid_label, invalid_expires_in_days (not 1 to "
    f"{SELF_SERVICE_LINK_MAX_DAYS}), invalid_max_uses (below 1), unknown_cards (numbers that are not cards of "
    "the enterprise; `unknown_count` and `unknown_first` name them) or too_many_cards."
)
E403 = error_response("The role may not manage self-service links (approvers, ops), or not for this enterprise.")
E404 = error_response("No such link or enterprise, a malformed id, or one outside the user's scope.")
E409 = error_response("The link is already revoked (`already_revoked`).")
LINK_ID = OpenApiParameter("public_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The link's id.")
ENTERPRISE_FILTER = OpenApiParameter(
    "enterprise", OpenApiTypes.UUID, OpenApiParameter.QUERY, required=False, description="Only this enterprise's links."
)


class SelfServiceLinkListCreateView(Idempotent, generics.ListAPIView):
    queryset = SelfServiceLink.objects.none()
    serializer_class = SelfServiceLinkSerializer
    renderer_classes = [JSONRenderer]

    def get_queryset(self):
        if is_schema_view(self):
            return SelfServiceLink.objects.none()
        user = self.request.user
        selectors.require_manager(user)
        links = selectors.links_visible_to(user)
        enterprise_id = self.request.query_params.get("enterprise")
        if enterprise_id:
            enterprise = enterprise_selectors.enterprise_for_action(user, enterprise_id, capability=selectors.MANAGE)
            links = links.filter(enterprise=enterprise)
        return links

    @extend_schema(
        tags=["self-service links"],
        summary="List the self-service links the user manages",
        description="Newest first, paginated. `url`, `qr_svg` and `qr_png` are null here: see the create call.",
        parameters=[ENTERPRISE_FILTER],
        responses={200: SelfServiceLinkSerializer(many=True), 401: E401, 403: E403, 404: E404},
    )
    def get(self, request, *args, **kwargs):
        return no_store(super().get(request, *args, **kwargs))

    @extend_schema(
        tags=["self-service links"],
        summary="Create a self-service link (and its QR code) for an enterprise's card users",
        description="The answer is the only one that carries the link's URL and QR code URLs: keep them.",
        request=SelfServiceLinkCreateSerializer,
        responses={201: SelfServiceLinkSerializer, 400: E400, 401: E401, 403: E403, 404: E404},
    )
    def post(self, request, *args, **kwargs):
        selectors.require_manager(request.user)
        data = validated(SelfServiceLinkCreateSerializer(data=request.data))
        enterprise = enterprise_selectors.enterprise_for_user(request.user, data["enterprise"])
        link, token = services.link_create(
            actor=request.user,
            enterprise=enterprise,
            label=data["label"],
            identifiers=data.get("iccids"),
            expires_in_days=data["expires_in_days"],
            max_uses=data["max_uses"],
        )
        body = SelfServiceLinkSerializer(link, context={"request": request, "tokens": {link.pk: token}}).data
        return no_store(Response(body, status=status.HTTP_201_CREATED))


class SelfServiceLinkRevokeView(generics.GenericAPIView):
    queryset = SelfServiceLink.objects.none()
    serializer_class = SelfServiceLinkSerializer
    renderer_classes = [JSONRenderer]

    @extend_schema(
        tags=["self-service links"],
        summary="Revoke a self-service link: its URL answers 410 from now on",
        parameters=[LINK_ID],
        request=None,
        responses={200: SelfServiceLinkSerializer, 401: E401, 403: E403, 404: E404, 409: E409},
    )
    def post(self, request, public_id):
        link = services.link_revoke(actor=request.user, link=selectors.link_for_user(request.user, public_id))
        return no_store(Response(SelfServiceLinkSerializer(link, context={"request": request}).data))
