"""REST API of platform API keys (/api/v1/platform/keys/), issue 10 §1: keep paths, fields and codes exactly.

Create and rotate answer the key itself (`key`), the only answers that can: only a keyed hash is stored.
Roles that manage no keys, and keys themselves, get 403; another enterprise's or province's keys are 404.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from accounts.permissions import Capability, may_somewhere, require, scope_filter
from core.api import E401, error_response, is_schema_view, validated
from core.errors import NotFound
from core.http import no_store
from core.idempotency import Idempotent
from enterprises import selectors as enterprise_selectors
from integrations import keys
from integrations.key_models import PlatformKey
from integrations.scopes import KeyScope

MANAGE = Capability.PLATFORM_KEYS_MANAGE
MSG_NOT_FOUND = "No such API key."


def keys_visible_to(actor: Any) -> QuerySet[PlatformKey]:
    return PlatformKey.objects.filter(scope_filter(actor, MANAGE, path="enterprise__")).select_related("enterprise")


def key_for_user(actor: Any, public_id: object) -> PlatformKey:
    try:
        key_id = uuid.UUID(str(public_id))
    except ValueError:
        raise NotFound(MSG_NOT_FOUND) from None
    key = keys_visible_to(actor).filter(public_id=key_id).first()
    if key is None:
        raise NotFound(MSG_NOT_FOUND)
    return key


def _require_manager(actor: Any) -> None:
    if not may_somewhere(actor, MANAGE):
        require(actor, MANAGE, message=keys.MSG_NOT_ALLOWED)


class PlatformKeySerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True, help_text="The key's id.")
    name = serializers.CharField(read_only=True)
    prefix = serializers.CharField(read_only=True, help_text="What is shown of the key, e.g. rnk_live_ab12cd34.")
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=[s.value for s in KeyScope]), read_only=True)
    test = serializers.BooleanField(read_only=True, help_text="A sandbox key (rnk_test_).")
    created_at = serializers.DateTimeField(read_only=True)
    expires_at = serializers.DateTimeField(read_only=True)
    last_used_at = serializers.DateTimeField(read_only=True, allow_null=True)
    revoked_at = serializers.DateTimeField(read_only=True, allow_null=True)
    grace_until = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="A rotated key works until then."
    )
    status = serializers.ChoiceField(choices=["active", "rotating", "rotated", "revoked", "expired"], read_only=True)


class PlatformKeyIssuedSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True, help_text="The key's id.")
    prefix = serializers.CharField(read_only=True)
    key = serializers.SerializerMethodField(help_text="The key itself: shown this once, only a hash is stored.")
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=[s.value for s in KeyScope]), read_only=True)
    expires_at = serializers.DateTimeField(read_only=True)
    test = serializers.BooleanField(read_only=True)

    def get_key(self, record: PlatformKey) -> str:
        return str(self.context["key"])


class PlatformKeyCreateSerializer(serializers.Serializer):
    enterprise = serializers.CharField(help_text="The enterprise's public_id.")
    name = serializers.CharField(allow_blank=True, help_text="What the key is for, at most 100 characters.")
    scopes = serializers.ListField(child=serializers.CharField(), allow_empty=True, help_text="At least one scope.")
    expires_in_days = serializers.IntegerField(
        required=False, default=keys.MAX_EXPIRY_DAYS, help_text="1 to 365 days, 365 by default."
    )
    test = serializers.BooleanField(required=False, default=False, help_text="A sandbox key (rnk_test_).")


class PlatformKeyRotateSerializer(serializers.Serializer):
    grace_hours = serializers.IntegerField(
        required=False,
        default=keys.DEFAULT_GRACE_HOURS,
        help_text=f"Hours the old key keeps working: 0 to {keys.MAX_GRACE_HOURS}, 24 by default.",
    )


E400 = error_response(
    "Refused, nothing created: `code` is required, invalid_name, invalid_scopes, invalid_expires_in_days or "
    "invalid_grace_hours, or idempotency_key_required (a key's call without Idempotency-Key)."
)
E403 = error_response("The role (or an API key) may not manage API keys, or not for this enterprise.")
E404 = error_response("No such key or enterprise, a malformed id, or one outside the user's scope.")
E409 = error_response("The key is already revoked (already_revoked) or no longer active (key_not_active).")
KEY_ID = OpenApiParameter("public_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The key's id.")
ENTERPRISE_FILTER = OpenApiParameter(
    "enterprise", OpenApiTypes.UUID, OpenApiParameter.QUERY, required=False, description="Only this enterprise's keys."
)


def _issued(record: PlatformKey, key: str) -> Response:
    return no_store(
        Response(PlatformKeyIssuedSerializer(record, context={"key": key}).data, status=status.HTTP_201_CREATED)
    )


class PlatformKeyListCreateView(Idempotent, generics.ListAPIView):
    queryset = PlatformKey.objects.none()
    serializer_class = PlatformKeySerializer
    renderer_classes = [JSONRenderer]

    def get_queryset(self):
        if is_schema_view(self):
            return PlatformKey.objects.none()
        user = self.request.user
        _require_manager(user)
        found = keys_visible_to(user)
        enterprise_id = self.request.query_params.get("enterprise")
        if enterprise_id:
            enterprise = enterprise_selectors.enterprise_for_action(user, enterprise_id, capability=MANAGE)
            found = found.filter(enterprise=enterprise)
        return found

    @extend_schema(
        tags=["platform keys"],
        summary="List the API keys the user manages",
        description="Newest first, paginated; never the key itself.",
        parameters=[ENTERPRISE_FILTER],
        responses={200: PlatformKeySerializer(many=True), 401: E401, 403: E403, 404: E404},
    )
    def get(self, request, *args, **kwargs):
        return no_store(super().get(request, *args, **kwargs))

    @extend_schema(
        tags=["platform keys"],
        summary="Create an API key for an enterprise's platform",
        description="The answer is the only one that carries `key`: keep it.",
        request=PlatformKeyCreateSerializer,
        responses={201: PlatformKeyIssuedSerializer, 400: E400, 401: E401, 403: E403, 404: E404},
    )
    def post(self, request, *args, **kwargs):
        _require_manager(request.user)
        data = validated(PlatformKeyCreateSerializer(data=request.data))
        enterprise = enterprise_selectors.enterprise_for_user(request.user, data["enterprise"])
        record, key = keys.key_create(
            actor=request.user,
            enterprise=enterprise,
            name=data["name"],
            scopes=data["scopes"],
            expires_in_days=data["expires_in_days"],
            test=data["test"],
        )
        return _issued(record, key)


class PlatformKeyRotateView(Idempotent, generics.GenericAPIView):
    queryset = PlatformKey.objects.none()
    serializer_class = PlatformKeyIssuedSerializer
    renderer_classes = [JSONRenderer]

    @extend_schema(
        tags=["platform keys"],
        summary="Rotate an API key: a new key now, the old one works for the grace period",
        parameters=[KEY_ID],
        request=PlatformKeyRotateSerializer,
        responses={201: PlatformKeyIssuedSerializer, 400: E400, 401: E401, 403: E403, 404: E404, 409: E409},
    )
    def post(self, request, public_id):
        _require_manager(request.user)
        record = key_for_user(request.user, public_id)
        data = validated(PlatformKeyRotateSerializer(data=request.data))
        new, key = keys.key_rotate(actor=request.user, key=record, grace_hours=data["grace_hours"])
        return _issued(new, key)


class PlatformKeyRevokeView(generics.GenericAPIView):
    queryset = PlatformKey.objects.none()
    serializer_class = PlatformKeySerializer
    renderer_classes = [JSONRenderer]

    @extend_schema(
        tags=["platform keys"],
        summary="Revoke an API key: it answers 401 from now on",
        parameters=[KEY_ID],
        request=None,
        responses={200: PlatformKeySerializer, 401: E401, 403: E403, 404: E404, 409: E409},
    )
    def post(self, request, public_id):
        _require_manager(request.user)
        record = keys.key_revoke(actor=request.user, key=key_for_user(request.user, public_id))
        return no_store(Response(PlatformKeySerializer(record).data))
