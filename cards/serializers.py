"""Shapes of the card, rule-engine and card-user REST API (cards.api).

Serializers only check shapes (types, lengths, choices). The rules (U0-U6) live
in cards.rules and cards.services, reads in cards.selectors. Card users' ID
numbers leave the API masked; the only full value is the reveal response.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from cards.models import Card, CardEvent, CardStatus, CardUser, RegistrationStatus, ServiceLevelChoices
from cards.presentation import registration_status_body
from cards.rules import Exemption
from cards.validation import validate_card_msisdn
from core.errors import ValidationFailed
from core.identity import PersonalIdType
from verification.models import GATE_OPEN_STATUSES, Verification, VerificationStatus

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
FINAL_VERIFICATION_STATUSES = frozenset(
    {VerificationStatus.PASSED, VerificationStatus.APPROVED, VerificationStatus.DECLINED, VerificationStatus.REJECTED}
)
NAME_MAX = CardUser._meta.get_field("name").max_length
MAX_CARDS_PER_REGISTRATION = 50


class StrictBooleanField(serializers.BooleanField):
    """A boolean that must be sent explicitly, also in multipart forms (no silent False)."""

    default_empty_html = empty


def _absolute(request, url: str) -> str:
    return request.build_absolute_uri(url) if request is not None else url


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
    data = serializers.ChoiceField(choices=ServiceLevelChoices.choices)
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
    realname_required = serializers.BooleanField(required=False, allow_null=True, default=None)
    enterprise = serializers.UUIDField(required=False, help_text="The owning enterprise's public_id.")


class CardListSerializer(serializers.ModelSerializer):
    enterprise = serializers.UUIDField(source="enterprise.public_id", read_only=True)
    enterprise_name = serializers.CharField(source="enterprise.name", read_only=True)
    package = serializers.CharField(source="package.code", read_only=True)
    package_name = serializers.CharField(source="package.name", read_only=True)
    data = serializers.CharField(source="data_service", read_only=True)
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
        return _absolute(self.context.get("request"), reverse("api:card-detail", kwargs={"iccid": card.iccid}))


class CardEventSerializer(serializers.ModelSerializer):
    label = serializers.SerializerMethodField()
    actor = serializers.SerializerMethodField()

    class Meta:
        model = CardEvent
        fields = ["at", "action", "label", "from_status", "to_status", "actor", "data"]
        read_only_fields = fields

    def get_label(self, event: CardEvent) -> str:
        return event_label(event.action)

    def get_actor(self, event: CardEvent) -> str | None:
        return event.actor.username if event.actor_id else None


class BoundUserSerializer(serializers.Serializer):
    public_id = serializers.UUIDField(source="card_user.public_id")
    name = serializers.CharField(source="card_user.name")
    id_type = serializers.CharField(source="card_user.id_type")
    id_number_masked = serializers.CharField(source="card_user.id_number_masked")
    bound_at = serializers.DateTimeField()


class CardDetailSerializer(CardListSerializer):
    package = PackageSerializer(read_only=True)
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
    data = serializers.ChoiceField(choices=ServiceLevelChoices.choices, required=False)
    voice = serializers.ChoiceField(choices=ServiceLevelChoices.choices, required=False)
    sms = serializers.ChoiceField(choices=ServiceLevelChoices.choices, required=False)
    package = serializers.CharField(max_length=32, required=False, help_text="The new package's code.")

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError(_("Give at least one of data, voice, sms or package."), code="required")
        return attrs


# --- card users --------------------------------------------------------------------


class RegistrationStatusSerializer(serializers.Serializer):
    """What came of a card user's registration (U5, U6); a passed comparison may still bind no card."""

    code = serializers.ChoiceField(
        choices=RegistrationStatus.choices,
        help_text="submitted, in_review, registered, needs_new_photo, declined, not_bound_card_limit "
        "(verified, but the ID already holds its five live cards), not_bound (verified, but a card "
        "was cancelled or registered to another user meanwhile).",
    )
    label = serializers.CharField()
    final = serializers.BooleanField(help_text="True when the state will not change any more.")
    detail = serializers.CharField(help_text="One sentence: what happened and what to do, in the request's language.")
    cards_requested = serializers.IntegerField(
        allow_null=True, help_text="How many cards the registration asked for (not_bound* only)."
    )
    slots_free = serializers.IntegerField(
        allow_null=True, help_text="How many of the ID's five slots are free now (not_bound_card_limit only)."
    )


class VerificationStatusSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=VerificationStatus.choices)
    status_label = serializers.CharField()
    final = serializers.BooleanField(help_text="True when the status will not change any more by itself.")
    passed = serializers.BooleanField(help_text="Passed, or approved by a reviewer.")
    reasons = serializers.ListField(child=serializers.CharField())
    reason_codes = serializers.ListField(
        child=serializers.CharField(),
        help_text="The reasons' stable codes, in the same order, e.g. live_photo_is_id_copy, no_face, replay.",
    )
    registration_status = RegistrationStatusSerializer(
        allow_null=True, help_text="A card user's comparison: what came of the registration. Null for a handler's."
    )
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)


def verification_status_body(verification: Verification, language: str) -> dict:
    zh = (language or "").lower().startswith("zh")
    reasons, codes = [], []
    for reason in verification.reasons or []:
        if isinstance(reason, dict):
            text = reason.get("zh" if zh else "en") or reason.get("message") or reason.get("code") or ""
        else:
            text = str(reason)
        if text:
            reasons.append(str(text))
            codes.append(str(reason.get("code", "")) if isinstance(reason, dict) else "")
    return {
        "public_id": verification.public_id,
        "status": verification.status,
        "status_label": str(verification.get_status_display()),
        "final": verification.status in FINAL_VERIFICATION_STATUSES,
        "passed": verification.status in GATE_OPEN_STATUSES,
        "reasons": reasons,
        "reason_codes": codes,
        "registration_status": (
            registration_status_body(verification.card_user, verification) if verification.card_user_id else None
        ),
        "created_at": verification.created_at,
        "completed_at": verification.completed_at,
    }


class CardUserListSerializer(serializers.ModelSerializer):
    id_number_masked = serializers.CharField(read_only=True, help_text="e.g. 110105********002X")
    enterprise = serializers.UUIDField(source="enterprise.public_id", read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = CardUser
        fields = [
            "public_id",
            "name",
            "id_type",
            "id_number_masked",
            "enterprise",
            "channel",
            "biometric_consent_at",
            "created_at",
            "url",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, card_user: CardUser) -> str:
        url = reverse("api:card-user-detail", kwargs={"public_id": card_user.public_id})
        return _absolute(self.context.get("request"), url)


class BindingSerializer(serializers.Serializer):
    iccid = serializers.CharField(source="card.iccid")
    msisdn = serializers.CharField(source="card.msisdn")
    bound_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    end_reason = serializers.CharField()


class CardUserDetailSerializer(CardUserListSerializer):
    registration_status = serializers.SerializerMethodField()
    bindings = serializers.SerializerMethodField()
    verifications = serializers.SerializerMethodField()
    photos = serializers.SerializerMethodField()

    class Meta(CardUserListSerializer.Meta):
        fields = [*CardUserListSerializer.Meta.fields, "registration_status", "bindings", "verifications", "photos"]
        read_only_fields = fields

    @extend_schema_field(RegistrationStatusSerializer)
    def get_registration_status(self, card_user: CardUser):
        verifications = self.context.get("verifications") or [None]
        return RegistrationStatusSerializer(registration_status_body(card_user, verifications[0])).data

    @extend_schema_field(BindingSerializer(many=True))
    def get_bindings(self, card_user: CardUser):
        return BindingSerializer(self.context.get("bindings", []), many=True).data

    @extend_schema_field(VerificationStatusSerializer(many=True))
    def get_verifications(self, card_user: CardUser):
        language = self.context.get("language", "zh-hans")
        return [
            VerificationStatusSerializer(verification_status_body(v, language)).data
            for v in self.context.get("verifications", [])
        ]

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "properties": {
                "id_photo": {"type": "string", "format": "uri"},
                "live_photo": {"type": "string", "format": "uri"},
            },
        }
    )
    def get_photos(self, card_user: CardUser):
        if not self.context.get("can_view_photos"):
            return None
        request = self.context.get("request")
        return {
            kind: _absolute(
                request, reverse("api:card-user-photo", kwargs={"public_id": card_user.public_id, "kind": kind})
            )
            for kind in ("id_photo", "live_photo")
        }


class CardUserRegisterSerializer(serializers.Serializer):
    enterprise = serializers.UUIDField(help_text="The enterprise whose cards the user uses.")
    name = serializers.CharField(max_length=NAME_MAX)
    id_type = serializers.ChoiceField(choices=PersonalIdType.choices)
    id_number = serializers.CharField(max_length=64)
    id_photo = serializers.FileField(help_text="A photo of the ID document.")
    live_photo = serializers.FileField(help_text="A live photo of the card user's face.")
    biometric_consent = StrictBooleanField(
        help_text="The card user's explicit consent to biometric processing (face recognition). Must be true."
    )
    cards = serializers.ListField(
        child=serializers.CharField(max_length=24),
        allow_empty=False,
        max_length=MAX_CARDS_PER_REGISTRATION,
        help_text="ICCIDs of the enterprise's cards to register the user for.",
    )


class CardUserRegisteredSerializer(serializers.Serializer):
    card_user = CardUserListSerializer()
    verification = VerificationStatusSerializer()
    verification_url = serializers.URLField()


class RevealSerializer(serializers.Serializer):
    field = serializers.ChoiceField(choices=["id_number"])


class RevealResponseSerializer(serializers.Serializer):
    field = serializers.CharField()
    value = serializers.CharField()
