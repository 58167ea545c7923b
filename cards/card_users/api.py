"""REST API for card users and the verification status of their registration (/api/v1/).

Thin views: reads go through cards.card_users.selectors (scoped: invisible means 404), writes
through cards.card_users.services; full personal data is throttled and needs the PII permission."""

from __future__ import annotations

import uuid
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from knox.auth import TokenAuthentication
from rest_framework import generics, status
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import Capability, can
from accounts.reveals import personal_file_response
from accounts.services import pii_view_log
from accounts.throttling import PiiRevealThrottle, with_default_throttles
from cards.card_users import selectors
from cards.card_users.serializers import (
    CardUserDetailSerializer,
    CardUserListSerializer,
    CardUserRegisteredSerializer,
    CardUserRegisterSerializer,
    RevealResponseSerializer,
    RevealSerializer,
    VerificationStatusSerializer,
    verification_status_body,
)
from cards.card_users.services import MSG_REGISTER_DENIED, card_user_register
from cards.decisions import current_language
from cards.inventory import selectors as card_selectors
from cards.inventory.api_base import E400, E403, E403_READ, E404, READ_ERRORS, CardsApiView, require_reads
from cards.models import CardUser, Channel
from core.api import E401, error_response, is_schema_view, validated
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.http import no_store
from core.idempotency import Idempotent
from core.search import clean_search, looks_like_id_number
from enterprises.selectors import enterprise_for_user
from integrations.auth import is_key_call
from verification.capture import live_capture_check
from verification.selectors import verifications_visible_to

MSG_PII_DENIED = _("You do not have the permission to view personal data in full.")
MSG_CONSENT = _("Face recognition needs the card user's explicit consent to process biometric data.")
MSG_LIVE_ONE_OF = _("Send either one live photo or the frames of a live capture, not both.")
MSG_VERIFICATION_NOT_FOUND = _("The verification does not exist or you have no access to it.")
E409 = error_response(
    "The card's state does not allow this (code invalid_transition), or one ID, five cards (code one_id_five_cards)."
)
E429 = error_response("Too many full views of personal data; retry after the `Retry-After` header's seconds.")
CARD_USER_ID = OpenApiParameter(
    "public_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The card user's public_id."
)


# --- card users ----------------------------------------------------------------------


class CardUserPagination(CursorPagination):
    ordering = "-created_at"
    page_size = 50
    page_size_query_param = None


class CardUserListCreateView(Idempotent, CardsApiView, generics.ListAPIView):
    queryset = CardUser.objects.none()
    serializer_class = CardUserListSerializer
    pagination_class = CardUserPagination
    parser_classes = [MultiPartParser]

    def get_queryset(self):
        if is_schema_view(self):
            return CardUser.objects.none()
        require_reads(self.request.user)
        search = clean_search(self.request.query_params.get("search"))
        if looks_like_id_number(search):
            # A query string ends up in access logs and proxies: an ID number is never taken from one.
            raise ValidationFailed(
                _("Search card users by name here; an ID number is never sent in a URL."),
                code="id_number_in_url",
                field="search",
            )
        return selectors.search_card_users(selectors.card_users_visible_to(self.request.user), search)

    @extend_schema(
        tags=["card users"],
        summary="The card users the user can see; ID numbers masked",
        parameters=[
            OpenApiParameter(
                "search",
                OpenApiTypes.STR,
                description=(
                    "A part of the name, or an 18-character ID number masked as the lists show it "
                    "(110105********0159). A whole ID number is refused here (400 id_number_in_url)."
                ),
            )
        ],
        responses={200: CardUserListSerializer(many=True), 400: E400, 401: E401, 403: E403_READ},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["card users"],
        summary="Register a card user for cards of an enterprise (U5, U6; channels C1 and C3)",
        description=(
            "multipart/form-data. Records the identity, the ID photo, the live photo and the explicit consent to "
            "biometric processing, and starts the face comparison. The cards are bound once it passes; poll "
            "`verification_url`. Refused with 409 one_id_five_cards when the ID would hold more than five live "
            "cards across all enterprises. Instead of `live_photo`, a platform may send the `frames` of a live "
            "capture with its `challenge` (and `timestamps`): the active liveness check decides (400 "
            "liveness_failed with `reasons`; inconclusive: a reviewer decides). Either one live photo or frames "
            "(400 live_photo_required); invalid_challenge, invalid_timestamps, frames for malformed capture fields. "
            "The permission (403) is decided before the body is validated."
        ),
        request=CardUserRegisterSerializer,
        responses={201: CardUserRegisteredSerializer, 400: E400, 401: E401, 403: E403, 404: E404, 409: E409},
    )
    def post(self, request, *args, **kwargs):
        # Who may register for which enterprise is decided before the body is looked at: a role or an API key
        # that may not register gets 403 whatever it sent, never a validation error about the rest.
        raw_enterprise = request.data.get("enterprise")
        if not raw_enterprise:
            raise ValidationFailed(_("This field is required."), code="required", field="enterprise")
        try:
            uuid.UUID(str(raw_enterprise))
        except ValueError:
            raise ValidationFailed(_("Must be a valid UUID."), code="invalid", field="enterprise") from None
        enterprise = enterprise_for_user(request.user, raw_enterprise)
        if not can(request.user, Capability.CARD_USERS_REGISTER, enterprise):
            raise PermissionDenied(MSG_REGISTER_DENIED)
        data = validated(CardUserRegisterSerializer(data=request.data))
        cards = card_selectors.enterprise_cards_for_user(request.user, enterprise, data["cards"])
        # Liveness frames are biometric data: no check runs on them without the card user's consent.
        if not data["biometric_consent"]:
            raise ValidationFailed(MSG_CONSENT, code="consent_required", field="biometric_consent")
        live_photo, review_required = self._live_photo(data)
        verification = card_user_register(
            actor=request.user,
            enterprise=enterprise,
            name=data["name"],
            id_type=data["id_type"],
            id_number=data["id_number"],
            id_photo=data["id_photo"],
            live_photo=live_photo,
            biometric_consent=data["biometric_consent"],
            cards=cards,
            channel=_channel(request),
            review_required=review_required,
        )
        verification.refresh_from_db()
        url = reverse("api:verification-detail", kwargs={"public_id": verification.public_id})
        body = {
            "card_user": CardUserListSerializer(verification.card_user, context={"request": request}).data,
            "verification": VerificationStatusSerializer(
                verification_status_body(verification, current_language())
            ).data,
            "verification_url": request.build_absolute_uri(url),
        }
        return no_store(Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["verification_url"]}))

    @staticmethod
    def _live_photo(data: dict) -> tuple[Any, bool]:
        """(the live photo, whether a reviewer must look): the photo sent, or what the liveness frames give."""
        frames = data.get("frames") or []
        if bool(frames) == bool(data.get("live_photo")):
            raise ValidationFailed(MSG_LIVE_ONE_OF, code="live_photo_required", field="live_photo")
        if not frames:
            return data["live_photo"], False
        capture = live_capture_check(
            frames=frames, challenge=data.get("challenge", ""), timestamps=data.get("timestamps", "")
        )
        return capture.live_photo, capture.review_required


def _channel(request) -> Channel:
    """C3 for a platform (an API key, or a personal token's script); C1 for the staff's own session."""
    if is_key_call(request) or isinstance(request.successful_authenticator, TokenAuthentication):
        return Channel.PLATFORM
    return Channel.COUNTER


class CardUserDetailView(CardsApiView, APIView):
    @extend_schema(
        tags=["card users"],
        summary="A card user, masked, with bindings and face comparisons",
        parameters=[CARD_USER_ID],
        responses={200: CardUserDetailSerializer, **READ_ERRORS},
    )
    def get(self, request, public_id):
        card_user = selectors.card_user_for_user(request.user, public_id)
        context = {
            "request": request,
            "language": current_language(),
            "bindings": list(selectors.card_user_bindings(card_user)),
            "verifications": list(card_user.verifications.order_by("-created_at")[:20]),
            "can_view_photos": can(request.user, Capability.VIEW_FULL_PII, card_user),
        }
        return no_store(Response(CardUserDetailSerializer(card_user, context=context).data))


class CardUserRevealView(CardsApiView, APIView):
    parser_classes = [JSONParser]
    throttle_classes = with_default_throttles(PiiRevealThrottle)

    @extend_schema(
        tags=["card users"],
        summary="Show the card user's ID number in full (logged)",
        description="Needs the view_full_pii permission. Each call is logged with actor, time, object and IP. "
        "The response must not be cached.",
        parameters=[CARD_USER_ID],
        request=RevealSerializer,
        responses={200: RevealResponseSerializer, 400: E400, 401: E401, 403: E403, 404: E404, 429: E429},
    )
    def post(self, request, public_id):
        card_user = selectors.card_user_for_user(request.user, public_id)
        if not can(request.user, Capability.VIEW_FULL_PII, card_user):
            raise PermissionDenied(MSG_PII_DENIED)
        data = validated(RevealSerializer(data=request.data))
        pii_view_log(actor=request.user, obj=card_user, field=data["field"], request=request)
        return no_store(Response({"field": data["field"], "value": card_user.id_number}))


PHOTO_KINDS = ("id_photo", "live_photo")


def card_user_photo_response(request, card_user: CardUser, kind: str, *, as_attachment: bool):
    """The stored photo: a full view of personal data, budgeted and logged, never cached."""
    if kind not in PHOTO_KINDS:
        raise NotFound(_("There is no such photo."))
    # ID and live photos show personal data in full, so only those who see it in full open them (each view
    # is logged): the enterprise's own admin, who took them, does not.
    if not can(request.user, Capability.VIEW_FULL_PII, card_user):
        raise PermissionDenied(MSG_PII_DENIED)
    photo = getattr(card_user, kind)
    extension = photo.name.rsplit(".", 1)[-1].lower() if "." in photo.name else "jpg"
    content_type = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}.get(
        extension, "application/octet-stream"
    )
    return personal_file_response(
        request,
        obj=card_user,
        field=kind,
        field_file=photo,
        content_type=content_type,
        as_attachment=as_attachment,
        filename=f"card-user-{kind.replace('_', '-')}.{extension}",
    )


class CardUserPhotoView(CardsApiView, APIView):
    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        tags=["card users"],
        summary="The card user's ID photo or live photo (logged)",
        description="kind is id_photo or live_photo. Needs the view_full_pii permission. Each download is a "
        "logged full view and spends the reveal budget (scope pii_reveal); served with Cache-Control: no-store.",
        parameters=[
            CARD_USER_ID,
            OpenApiParameter("kind", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(PHOTO_KINDS)),
        ],
        responses={
            (200, "image/jpeg"): OpenApiTypes.BINARY,
            (200, "image/png"): OpenApiTypes.BINARY,
            401: E401,
            403: E403,
            404: E404,
            429: E429,
        },
    )
    def get(self, request, public_id, kind):
        card_user = selectors.card_user_for_user(request.user, public_id)
        return card_user_photo_response(request, card_user, kind, as_attachment=True)


# --- verification status (polled by the card-user page and customer platforms) ----------


class VerificationStatusView(CardsApiView, APIView):
    @extend_schema(
        tags=["verifications"],
        summary="Where a face comparison stands (poll this)",
        description="`final` is true once the status will not change by itself; `passed` once the gate is open.",
        parameters=[OpenApiParameter("public_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        responses={200: VerificationStatusSerializer, **READ_ERRORS},
    )
    def get(self, request, public_id):
        key = selectors._parse_uuid(public_id)
        verification = verifications_visible_to(request.user).filter(public_id=key).first() if key else None
        if verification is None:
            raise NotFound(MSG_VERIFICATION_NOT_FOUND)
        body = VerificationStatusSerializer(verification_status_body(verification, current_language())).data
        return no_store(Response(body))


__all__ = [
    "CardUserDetailView",
    "CardUserListCreateView",
    "CardUserPhotoView",
    "CardUserRevealView",
    "VerificationStatusView",
]
