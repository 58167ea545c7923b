"""Shapes of the card-user and verification-status REST API (cards.card_users.api).

Card users' ID numbers leave the API masked; the only full value is the reveal response."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from cards.card_users.presentation import registration_status_body
from cards.models import CardUser, RegistrationStatus
from core.api import absolute_url
from core.columns import max_length
from core.identity import PersonalIdType
from verification.models import GATE_OPEN_STATUSES, Verification, VerificationStatus

FINAL_VERIFICATION_STATUSES = frozenset(
    {VerificationStatus.PASSED, VerificationStatus.APPROVED, VerificationStatus.DECLINED, VerificationStatus.REJECTED}
)
NAME_MAX = max_length(CardUser, "name")
MAX_CARDS_PER_REGISTRATION = 50


class StrictBooleanField(serializers.BooleanField):
    """A boolean that must be sent explicitly, also in multipart forms (no silent False)."""

    default_empty_html = empty


# --- card users --------------------------------------------------------------------


class RegistrationStatusSerializer(serializers.Serializer):
    """What came of a card user's registration (U5, U6); a passed comparison may still bind no card."""

    code = serializers.ChoiceField(
        choices=RegistrationStatus.choices,
        help_text="submitted, in_review, registered, needs_new_photo, declined, not_bound_card_limit "
        "(verified, but the ID already holds its five live cards), not_bound (verified, but a card "
        "was cancelled or registered to another user meanwhile), face_mismatch (a counter registration whose "
        "photos clearly do not match, waiting for a retake or a hand-off to review).",
    )
    label = serializers.CharField()  # type: ignore[assignment]  # a field: the metaclass lifts it off the class
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
            registration_status_body(verification.card_user, verification)
            if verification.card_user is not None
            else None
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
        return absolute_url(self.context.get("request"), url)


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
            kind: absolute_url(
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
    live_photo = serializers.FileField(
        required=False, help_text="A live photo of the card user's face; or, instead, the liveness `frames`."
    )
    frames = serializers.ListField(
        child=serializers.FileField(),
        required=False,
        max_length=15,
        help_text="Instead of live_photo: the frames of a live capture (8 to 15 JPEGs in capture order) in which "
        "the card user does the head moves of `challenge`. They go to the active liveness check: a pass gives the "
        "live photo, a fail is 400 liveness_failed (with `reasons`), an inconclusive check sends the registration "
        "to a reviewer.",
    )
    challenge = serializers.CharField(
        required=False,
        max_length=64,
        help_text="With frames: the head moves asked, 1 to 3 of left, right, straight, comma-separated.",
    )
    timestamps = serializers.CharField(
        required=False,
        max_length=512,
        help_text="With frames: each frame's capture time in seconds, comma-separated (else taken from frame "
        "names ending _tSSS.sss.jpg).",
    )
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
