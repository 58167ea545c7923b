"""Shapes of the card and rule-engine REST API (cards.inventory.api).

Serializers only check shapes (types, lengths, choices). The rules (U0-U6) live
in cards.rules and cards.inventory.services, reads in cards.inventory.selectors. Card users' ID
numbers leave the API masked; the only full value is the reveal response.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cards.models import Card, CardEvent, CardStatus, ServiceLevelChoices
from cards.rules import Exemption
from cards.validation import validate_card_msisdn
from core.api import absolute_url
from core.errors import ValidationFailed

EVENT_LABELS = {
    "created": _("Put in stock"),
    "imported": _("Imported"),
    "awaiting_realname": _("Activation refused: awaiting the card user's real-name"),
    "activated": _("Activated"),
    "realname_completed": _("Card user's real-name complete: back to its state before the transfer"),
    "suspended": _("Suspended"),
    "resumed": _("Resumed"),
    "cancelled": _("Cancelled"),
    "services_changed": _("Services or package changed"),
    "transferred": _("Ownership transferred"),
    "replaced": _("Card replaced (new ICCID)"),
    "user_bound": _("Card user registered (face comparison passed)"),
    "test_period_ended": _("Suspended: the test period on the IoT test-card package ended"),
}

BASIS_CHOICES = ["not_required", "user_realname_complete", "exemption_approved", "missing"]


def event_label(action: str) -> str:
    return str(EVENT_LABELS.get(action, action))


# --- rule engine ---------------------------------------------------------------


class DecisionSerializer(serializers.Serializer):
    user_realname_required = serializers.BooleanField()
    exemption = serializers.ChoiceField(
        choices=[e.value for e in Exemption],
        allow_null=True,
        help_text="Who may approve an exemption; none_possible for U2; null when real-name is not required.",
    )
    rules = serializers.ListField(child=serializers.CharField(), help_text='The rules that fired, e.g. ["U1", "U3"].')
    reasons = serializers.ListField(
        child=serializers.CharField(), help_text="One reason per rule, in the request's language (Accept-Language)."
    )


class RealnameRequirementSerializer(DecisionSerializer):
    satisfied = serializers.BooleanField(help_text="Whether the card may be active with its services now (U5).")
    basis = serializers.ChoiceField(choices=BASIS_CHOICES)
    basis_text = serializers.CharField()
    exemption_text = serializers.CharField(allow_blank=True)


class RuleEvaluateSerializer(serializers.Serializer):
    msisdn = serializers.CharField(
        max_length=32, help_text="11 digits, or a 13-digit IoT number; 149... is the 149 segment."
    )
    data = serializers.ChoiceField(choices=ServiceLevelChoices.choices)  # type: ignore[assignment]  # a field: the metaclass lifts it off the class
    voice = serializers.ChoiceField(choices=ServiceLevelChoices.choices)
    sms = serializers.ChoiceField(choices=ServiceLevelChoices.choices)
    test_package = serializers.BooleanField(required=False, default=False, help_text="An IoT test-card package (U4).")

    def validate_msisdn(self, value):
        try:
            return validate_card_msisdn(value)
        except ValidationFailed as exc:
            raise serializers.ValidationError(str(exc.message), code=exc.code) from exc


class RefusalSerializer(serializers.Serializer):
    """409 of a card action refused by U5: the error and the decision behind it."""

    code = serializers.CharField()
    detail = serializers.CharField()
    field = serializers.CharField(required=False)
    decision = DecisionSerializer()


class OrderRequiredSerializer(serializers.Serializer):
    """410 of a direct card action: the business is done through an order now (H2)."""

    code = serializers.CharField(help_text="order_required")
    detail = serializers.CharField()
    business_type = serializers.CharField(help_text="The business type to file with POST /api/v1/orders/.")
    parameters = serializers.JSONField(help_text='The order parameters this action meant, e.g. {"action": "suspend"}.')
    orders_url = serializers.URLField(help_text="The order API.")


# --- cards -------------------------------------------------------------------------


class PackageSerializer(serializers.Serializer):
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    is_test_package = serializers.BooleanField(read_only=True)


class CardFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=CardStatus.choices, required=False)
    package = serializers.CharField(max_length=32, required=False, help_text="A package code.")
    iccid__startswith = serializers.RegexField(
        r"^\d{1,20}$",
        required=False,
        help_text="ICCID prefix (digits).",
        error_messages={"invalid": _("An ICCID prefix has up to 20 digits.")},
    )
    msisdn = serializers.RegexField(
        r"^\d{1,13}$",
        required=False,
        help_text="MSISDN digits: a whole number (11 or 13 digits) matches exactly, fewer digits match its start.",
        error_messages={"invalid": _("A number or its start has up to 13 digits.")},
    )
    realname_required = serializers.BooleanField(required=False, allow_null=True, default=None)
    enterprise = serializers.UUIDField(required=False, help_text="The owning enterprise's public_id.")
    search = serializers.CharField(
        max_length=24, required=False, allow_blank=True, help_text="ICCID or MSISDN: whole (exact) or its start."
    )


class CardListSerializer(serializers.ModelSerializer):
    enterprise = serializers.UUIDField(source="enterprise.public_id", read_only=True)
    enterprise_name = serializers.CharField(source="enterprise.name", read_only=True)
    package = serializers.CharField(source="package.code", read_only=True)
    package_name = serializers.CharField(source="package.name", read_only=True)
    data = serializers.CharField(source="data_service", read_only=True)  # type: ignore[assignment]  # a field: the metaclass lifts it off the class
    voice = serializers.CharField(source="voice_service", read_only=True)
    sms = serializers.CharField(source="sms_service", read_only=True)
    rules = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Card
        fields = [
            "iccid",
            "msisdn",
            "imsi",
            "enterprise",
            "enterprise_name",
            "package",
            "package_name",
            "data",
            "voice",
            "sms",
            "status",
            "realname_required",
            "rules",
            "exemption_needed",
            "test_period_ends_at",
            "url",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "test_period_ends_at": {
                "help_text": "U4: when the card's trial on its IoT test-card package ends (it is then suspended "
                "unless it moved to a commercial package); null on a commercial package."
            }
        }

    def get_rules(self, card: Card) -> list[str]:
        return [r for r in card.realname_rules.split(",") if r]

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, card: Card) -> str:
        return absolute_url(self.context.get("request"), reverse("api:card-detail", kwargs={"iccid": card.iccid}))


class CardEventSerializer(serializers.ModelSerializer):
    label = serializers.SerializerMethodField()  # type: ignore[assignment]  # a field: the metaclass lifts it off the class
    actor = serializers.SerializerMethodField()

    class Meta:
        model = CardEvent
        fields = ["at", "action", "label", "from_status", "to_status", "actor", "data"]
        read_only_fields = fields

    def get_label(self, event: CardEvent) -> str:
        return event_label(event.action)

    def get_actor(self, event: CardEvent) -> str | None:
        return event.actor.username if event.actor is not None else None


class BoundUserSerializer(serializers.Serializer):
    public_id = serializers.UUIDField(source="card_user.public_id")
    name = serializers.CharField(source="card_user.name")
    id_type = serializers.CharField(source="card_user.id_type")
    id_number_masked = serializers.CharField(source="card_user.id_number_masked")
    bound_at = serializers.DateTimeField()


class CardDetailSerializer(CardListSerializer):
    package = PackageSerializer(read_only=True)  # type: ignore[assignment]  # in full, where the list names it
    realname = serializers.SerializerMethodField()
    card_user = serializers.SerializerMethodField()
    history = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)

    class Meta(CardListSerializer.Meta):
        fields = [*CardListSerializer.Meta.fields, "created_at", "realname", "card_user", "history"]
        read_only_fields = fields

    @extend_schema_field(RealnameRequirementSerializer)
    def get_realname(self, card: Card) -> dict:
        return self.context["decision_view"].as_dict()

    @extend_schema_field(BoundUserSerializer(allow_null=True))
    def get_card_user(self, card: Card):
        binding = self.context.get("binding")
        return BoundUserSerializer(binding).data if binding else None

    @extend_schema_field(CardEventSerializer(many=True))
    def get_history(self, card: Card):
        return CardEventSerializer(self.context.get("events", []), many=True).data


class CardServicesSerializer(serializers.Serializer):
    data = serializers.ChoiceField(choices=ServiceLevelChoices.choices, required=False)  # type: ignore[assignment]  # a field: the metaclass lifts it off the class
    voice = serializers.ChoiceField(choices=ServiceLevelChoices.choices, required=False)
    sms = serializers.ChoiceField(choices=ServiceLevelChoices.choices, required=False)
    package = serializers.CharField(max_length=32, required=False, help_text="The new package's code.")

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError(_("Give at least one of data, voice, sms or package."), code="required")
        return attrs
