"""Shapes of the order API (cards.orders.api).

Only shapes: types, lengths, choices. The rules (H1-H3, which cards, which
parameters) live in cards.orders. The handler's ID number leaves the API
masked only.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cards.models import BUSINESS_CHOICES, BUSINESSES, BusinessType, Order, OrderCard, OrderStatus
from cards.orders.handlers import ADDRESS_MAX, NAME_MAX
from cards.orders.selectors import order_latest_verification
from cards.orders.services import ORDER_MAX_CARDS, parse_iccid_list
from core.api import MaskedTextField, absolute_url
from core.identity import PersonalIdType
from verification.models import Verification, VerificationOutcome, VerificationStatus

# --- read shapes ------------------------------------------------------------------


class OrderEnterpriseSerializer(serializers.Serializer):
    public_id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True)


class OrderHandlerSerializer(serializers.Serializer):
    """H1, masked: the ID number is never sent in full."""

    name = serializers.CharField(read_only=True)
    id_type = serializers.ChoiceField(choices=PersonalIdType.choices, read_only=True)
    id_number_masked = serializers.CharField(read_only=True, help_text="e.g. 110105********002X")


class OrderCardSerializer(serializers.ModelSerializer):
    iccid = serializers.CharField(source="card.iccid", read_only=True, help_text="The card's ICCID now.")
    msisdn = serializers.CharField(source="card.msisdn", read_only=True)
    status = serializers.CharField(source="card.status", read_only=True, help_text="The card's status now.")
    outcome = serializers.CharField(
        read_only=True,
        help_text="What completing the order did: activated, awaiting_realname (then activated_after_realname "
        "once the card user's real-name or an exemption covers the card), transferred, replaced, "
        "services_changed, suspended, resumed, cancelled, registered; empty while the order waits.",
    )
    outcome_detail = serializers.JSONField(
        read_only=True, help_text='e.g. {"rules": ["U1"], "exemption": "province", "status": "awaiting_realname"}'
    )

    class Meta:
        model = OrderCard
        fields = ["iccid", "msisdn", "status", "previous_iccid", "new_iccid", "outcome", "outcome_detail"]
        read_only_fields = fields


class OrderVerificationSerializer(serializers.ModelSerializer):
    """The handler's face comparison (H3): where it is and, once decided, why."""

    status = serializers.ChoiceField(choices=VerificationStatus.choices, read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    outcome = serializers.ChoiceField(choices=VerificationOutcome.choices, read_only=True, allow_blank=True)
    gate_open = serializers.BooleanField(read_only=True)
    reasons = serializers.JSONField(read_only=True, help_text='[{"code": "no_face", "zh": "...", "en": "..."}]')
    review_comment = MaskedTextField()

    class Meta:
        model = Verification
        fields = [
            "public_id",
            "status",
            "status_label",
            "outcome",
            "gate_open",
            "reasons",
            "created_at",
            "completed_at",
            "reviewed_at",
            "review_comment",
        ]
        read_only_fields = fields


class OrderListSerializer(serializers.ModelSerializer):
    enterprise = OrderEnterpriseSerializer(read_only=True)
    business_type_label = serializers.CharField(source="get_business_type_display", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    face_gated = serializers.BooleanField(source="is_face_gated", read_only=True)
    handler = OrderHandlerSerializer(read_only=True)
    card_count = serializers.SerializerMethodField()
    created_by = serializers.CharField(
        source="created_by.username",
        read_only=True,
        allow_null=True,
        help_text="Null when a platform API key filed it.",
    )
    url = serializers.SerializerMethodField()
    page_url = serializers.SerializerMethodField()
    rejection_reason = MaskedTextField()

    class Meta:
        model = Order
        fields = [
            "public_id",
            "number",
            "enterprise",
            "business_type",
            "business_type_label",
            "status",
            "status_label",
            "face_gated",
            "handler",
            "card_count",
            "rejection_reason",
            "created_by",
            "created_at",
            "completed_at",
            "url",
            "page_url",
        ]
        read_only_fields = fields

    def get_card_count(self, order: Order) -> int:
        count = getattr(order, "card_count", None)
        return count if count is not None else order.cards.count()

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, order: Order) -> str:
        return absolute_url(
            self.context.get("request"), reverse("api:order-detail", kwargs={"public_id": order.public_id})
        )

    @extend_schema_field(OpenApiTypes.URI)
    def get_page_url(self, order: Order) -> str:
        return absolute_url(
            self.context.get("request"), reverse("orders:detail", kwargs={"public_id": order.public_id})
        )


class OrderDetailSerializer(OrderListSerializer):
    parameters = serializers.JSONField(read_only=True)
    cards = serializers.SerializerMethodField()
    verification = serializers.SerializerMethodField()
    has_live_photo = serializers.SerializerMethodField()

    class Meta(OrderListSerializer.Meta):
        fields = OrderListSerializer.Meta.fields + ["parameters", "has_live_photo", "cards", "verification"]
        read_only_fields = fields

    @extend_schema_field(OrderCardSerializer(many=True))
    def get_cards(self, order: Order):
        lines = OrderCard.objects.filter(order=order).select_related("card").order_by("pk")
        return OrderCardSerializer(lines, many=True).data

    @extend_schema_field(OrderVerificationSerializer(allow_null=True))
    def get_verification(self, order: Order):
        verification = order_latest_verification(order)
        return OrderVerificationSerializer(verification).data if verification else None

    def get_has_live_photo(self, order: Order) -> bool:
        return bool(order.handler_live_photo)


# --- input shapes -------------------------------------------------------------------


class IccidListField(serializers.ListField):
    """ICCIDs, as repeated form fields or as one text with one ICCID per line (or comma-separated)."""

    child = serializers.CharField(max_length=32 * ORDER_MAX_CARDS, allow_blank=True)

    def to_internal_value(self, data: Any) -> list[str]:
        values = super().to_internal_value(data)
        flat: list[str] = []
        for value in values:
            flat.extend(parse_iccid_list(value))
        if len(flat) > ORDER_MAX_CARDS:
            raise serializers.ValidationError(f"At most {ORDER_MAX_CARDS} cards.", code="too_many")
        return flat


_GATED_TYPES = [business.type.value for business in BUSINESSES.values() if business.face_gated]
_GATED = ", ".join(_GATED_TYPES[:-1]) + " and " + _GATED_TYPES[-1]


class OrderCreateSerializer(serializers.Serializer):
    """multipart/form-data. H1: a returning handler (found by the ID document within the enterprise)
    needs only handler_id_type, handler_id_number and a fresh handler_id_photo."""

    enterprise = serializers.CharField(max_length=64, help_text="public_id of the enterprise.")
    business_type = serializers.ChoiceField(choices=BUSINESS_CHOICES)
    cards = IccidListField(help_text="ICCIDs of the enterprise's cards (repeat the field, or one per line).")
    handler_id_type = serializers.ChoiceField(choices=PersonalIdType.choices)
    handler_id_number = serializers.CharField(max_length=64)
    handler_name = serializers.CharField(
        max_length=NAME_MAX, required=False, allow_blank=True, help_text="Required for a handler new to the enterprise."
    )
    handler_id_address = serializers.CharField(
        max_length=ADDRESS_MAX,
        required=False,
        allow_blank=True,
        help_text="Required for a handler new to the enterprise.",
    )
    handler_id_photo = serializers.FileField(help_text="Photo of the handler's original ID (every order).")
    handler_live_photo = serializers.FileField(
        required=False,
        help_text=f"Live photo of the handler. Required (H3) for {_GATED}; compared with the ID photo before the "
        "order completes.",
    )
    credential_photo = serializers.FileField(
        required=False,
        help_text="Fresh photo of the enterprise's original credential (a letter unit: the unit introduction "
        "letter or official letter with the seal, image or PDF), stored as a new document version (E2). Optional "
        "only on the enterprise's first order, which its registration's documents serve; every later order is "
        "refused without it (400 fresh_photo_required, field credential_photo).",
    )
    responsible_id_photo = serializers.FileField(
        required=False,
        help_text="Fresh photo of the responsible person's original ID, stored as a new document version (P3). "
        "Optional only on the enterprise's first order; every later order is refused without it "
        "(400 fresh_photo_required, field responsible_id_photo).",
    )
    parameters = serializers.JSONField(
        binary=True,
        required=False,
        help_text='A JSON object. ownership_transfer: {"target_enterprise": "<public_id>"}; card_replacement: '
        '{"new_iccids": {"<old ICCID>": "<new ICCID>"}}; service_change: {"data"|"voice"|"sms": '
        '"none|directed|non_directed", "package": "<code>"} (at least one); suspend_resume: '
        '{"action": "suspend|resume"}; other businesses: none.',
    )


class OrderFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=OrderStatus.choices, required=False)
    business_type = serializers.ChoiceField(choices=BusinessType.choices, required=False)
    enterprise = serializers.UUIDField(required=False)
    search = serializers.CharField(max_length=64, required=False, allow_blank=True)


class LivePhotoSerializer(serializers.Serializer):
    handler_live_photo = serializers.FileField()
