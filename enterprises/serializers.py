"""Shapes of the enterprise REST API (enterprises.api).

Serializers here only describe and check the shape of data: types, lengths,
choices, which fields are present. Every business rule (E1-E3, P1-P4,
permissions, duplicates) lives in enterprises.services, and every read in
enterprises.selectors. Personal data leaves the API masked: the only full
value the API ever returns is the one `EnterpriseRevealResponseSerializer` carries.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from accounts.models import User
from accounts.pii import mask_identifier
from accounts.roles import Role
from core.api import MaskedTextField, absolute_url
from core.columns import max_length
from core.identity import CredentialType, PersonalIdType
from enterprises.models import (
    ChangeRequest,
    ChangeTarget,
    Document,
    Enterprise,
    EnterpriseStatus,
    ResponsiblePerson,
    UnitKind,
)

# Lengths of the model columns, so an over-long value is a 400, never a database error.
NAME_MAX = max_length(Enterprise, "name")
ADDRESS_MAX = max_length(Enterprise, "credential_address")
PERSON_NAME_MAX = max_length(ResponsiblePerson, "name")
PERSON_ADDRESS_MAX = max_length(ResponsiblePerson, "id_address")
REFERENCE_MAX = max_length(Document, "business_reference")
NUMBER_MAX = 64  # longer than any credential or ID number we accept
NOTES_MAX = 5000
REASON_MAX = 2000
MAX_FILES_PER_FIELD = 10


class StrictBooleanField(serializers.BooleanField):
    """A boolean that must be sent explicitly, in JSON and in multipart forms.

    DRF reads a missing boolean in form data as False (HTML checkbox rules);
    for "is the responsible person the legal representative" a silent False
    would change the meaning of the request (P1), so a missing value is an error.
    """

    default_empty_html = empty


def _files(help_text, *, required: bool = False):
    return serializers.ListField(
        child=serializers.FileField(),
        required=required,
        allow_empty=not required,
        max_length=MAX_FILES_PER_FIELD,
        help_text=help_text,
    )


# --- small read shapes --------------------------------------------------------


class ProvinceSerializer(serializers.Serializer):
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


class UserRefSerializer(serializers.Serializer):
    username = serializers.CharField(read_only=True)
    full_name = serializers.CharField(read_only=True)


class DocumentSerializer(serializers.ModelSerializer):
    """One stored document version; the file itself only through `download_url`."""

    uploaded_by = serializers.CharField(
        source="uploaded_by.username",
        read_only=True,
        allow_null=True,
        help_text="Null when a platform API key uploaded it.",
    )
    change_request = serializers.UUIDField(source="change_request.public_id", read_only=True, allow_null=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = [
            "public_id",
            "kind",
            "version",
            "purpose",
            "business_reference",
            "change_request",
            "content_type",
            "size",
            "width",
            "height",
            "uploaded_by",
            "uploaded_at",
            "download_url",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_download_url(self, document: Document) -> str:
        url = reverse("api:document-download", kwargs={"public_id": document.public_id})
        return absolute_url(self.context.get("request"), url)


class ResponsiblePersonSerializer(serializers.ModelSerializer):
    id_number_masked = serializers.CharField(read_only=True, help_text="e.g. 110105********002X")

    class Meta:
        model = ResponsiblePerson
        fields = ["name", "id_type", "id_number_masked", "id_address", "is_legal_representative"]
        read_only_fields = fields


class ChangeRequestSummarySerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    submitted_by = serializers.CharField(source="submitted_by.username", read_only=True)

    class Meta:
        model = ChangeRequest
        fields = ["public_id", "target", "status", "submitted_by", "submitted_at", "decided_at", "url"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, change_request: ChangeRequest) -> str:
        url = reverse("api:change-request-detail", kwargs={"public_id": change_request.public_id})
        return absolute_url(self.context.get("request"), url)


class UnitKindSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="label", read_only=True, help_text="In the request's language.")

    class Meta:
        model = UnitKind
        fields = ["code", "name", "cannot_hold_credential"]
        read_only_fields = fields


class EnterpriseListSerializer(serializers.ModelSerializer):
    unit_kind = serializers.CharField(
        source="unit_kind.code", read_only=True, help_text="A code of /api/v1/unit-kinds/."
    )
    credential_number_masked = serializers.CharField(
        read_only=True, help_text="Masked; empty for the official-letter path, which has no number."
    )
    province = ProvinceSerializer(read_only=True)
    account_manager = UserRefSerializer(read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Enterprise
        fields = [
            "public_id",
            "name",
            "unit_kind",
            "credential_type",
            "credential_number_masked",
            "province",
            "account_manager",
            "status",
            "created_at",
            "url",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, enterprise: Enterprise) -> str:
        url = reverse("api:enterprise-detail", kwargs={"public_id": enterprise.public_id})
        return absolute_url(self.context.get("request"), url)


class EnterpriseDetailSerializer(EnterpriseListSerializer):
    """An enterprise's real-name record, numbers masked, with its document versions and change requests."""

    # The view passes the scoped `documents` and `change_requests` querysets in the context.

    responsible_person = serializers.SerializerMethodField()
    documents = serializers.SerializerMethodField()
    change_requests = serializers.SerializerMethodField()

    class Meta(EnterpriseListSerializer.Meta):
        fields = EnterpriseListSerializer.Meta.fields + [
            "credential_address",
            "notes",
            "updated_at",
            "responsible_person",
            "documents",
            "change_requests",
        ]
        read_only_fields = fields

    @extend_schema_field(ResponsiblePersonSerializer(allow_null=True))
    def get_responsible_person(self, enterprise: Enterprise):
        try:
            person = enterprise.responsible_person
        except ResponsiblePerson.DoesNotExist:
            return None
        return ResponsiblePersonSerializer(person, context=self.context).data

    @extend_schema_field(DocumentSerializer(many=True))
    def get_documents(self, enterprise: Enterprise):
        return DocumentSerializer(self.context.get("documents", []), many=True, context=self.context).data

    @extend_schema_field(ChangeRequestSummarySerializer(many=True))
    def get_change_requests(self, enterprise: Enterprise):
        return ChangeRequestSummarySerializer(
            self.context.get("change_requests", []), many=True, context=self.context
        ).data


def masked_proposed_values(target: str, values: dict) -> dict:
    """Change-request or record-version values with the numbers masked (shared with the admin)."""
    if target == ChangeTarget.ENTERPRISE:
        return {
            "name": values.get("name", ""),
            "unit_kind": values.get("unit_kind", ""),
            "credential_type": values.get("credential_type", ""),
            "credential_number_masked": mask_identifier(values.get("credential_number") or ""),
            "credential_address": values.get("credential_address", ""),
        }
    return {
        "name": values.get("name", ""),
        "id_type": values.get("id_type", ""),
        "id_number_masked": mask_identifier(values.get("id_number") or ""),
        "id_address": values.get("id_address", ""),
        "is_legal_representative": bool(values.get("is_legal_representative", False)),
    }


class MaskedEnterpriseValuesSerializer(serializers.Serializer):
    name = serializers.CharField()
    unit_kind = serializers.CharField(help_text="Empty for requests filed before units had kinds.")
    credential_type = serializers.ChoiceField(choices=CredentialType.choices)
    credential_number_masked = serializers.CharField()
    credential_address = serializers.CharField()


class MaskedResponsibleValuesSerializer(serializers.Serializer):
    name = serializers.CharField()
    id_type = serializers.ChoiceField(choices=PersonalIdType.choices)
    id_number_masked = serializers.CharField()
    id_address = serializers.CharField()
    is_legal_representative = serializers.BooleanField()


class ChangeRequestSerializer(ChangeRequestSummarySerializer):
    enterprise = serializers.UUIDField(source="enterprise.public_id", read_only=True)
    decided_by = serializers.CharField(source="decided_by.username", read_only=True, allow_null=True)
    proposed_values = serializers.SerializerMethodField(help_text="The proposed values, numbers masked.")
    documents = serializers.SerializerMethodField()
    reason = MaskedTextField()
    decision_comment = MaskedTextField()

    class Meta(ChangeRequestSummarySerializer.Meta):
        fields = ChangeRequestSummarySerializer.Meta.fields + [
            "enterprise",
            "reason",
            "proposed_values",
            "decided_by",
            "decision_comment",
            "applied_at",
            "created_at",
            "documents",
        ]
        read_only_fields = fields

    @extend_schema_field(
        PolymorphicProxySerializer(
            component_name="MaskedProposedValues",
            serializers=[MaskedEnterpriseValuesSerializer, MaskedResponsibleValuesSerializer],
            resource_type_field_name=None,
        )
    )
    def get_proposed_values(self, change_request: ChangeRequest) -> dict:
        return masked_proposed_values(change_request.target, change_request.proposed_values)

    @extend_schema_field(DocumentSerializer(many=True))
    def get_documents(self, change_request: ChangeRequest):
        return DocumentSerializer(self.context.get("documents", []), many=True, context=self.context).data


# --- input shapes ---------------------------------------------------------------


class EnterpriseRegisterSerializer(serializers.Serializer):
    """E1, P1, P2: a first-time enterprise with its responsible person (multipart/form-data)."""

    name = serializers.CharField(max_length=NAME_MAX)
    unit_kind = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        help_text="A code of GET /api/v1/unit-kinds/. Required for official_letter, which only a kind that "
        "cannot hold a credential may use; otherwise the credential type implies it.",
    )
    credential_type = serializers.ChoiceField(choices=CredentialType.choices)
    credential_number = serializers.CharField(
        max_length=NUMBER_MAX, required=False, allow_blank=True, help_text="Blank for official_letter."
    )
    credential_address = serializers.CharField(max_length=ADDRESS_MAX)
    responsible_name = serializers.CharField(max_length=PERSON_NAME_MAX)
    responsible_id_type = serializers.ChoiceField(choices=PersonalIdType.choices)
    responsible_id_number = serializers.CharField(max_length=NUMBER_MAX)
    responsible_id_address = serializers.CharField(max_length=PERSON_ADDRESS_MAX)
    responsible_is_legal_representative = StrictBooleanField(
        help_text="If false, authorisation_letter_files is required (P1)."
    )
    credential_files = _files(
        "Photo of the original credential, or the official letter with seal (image or PDF).", required=True
    )
    responsible_id_files = _files("Photo of the responsible person's ID.", required=True)
    authorisation_letter_files = _files("Responsible-person authorisation letter (image or PDF).")
    business_reference = serializers.CharField(max_length=REFERENCE_MAX, required=False, allow_blank=True)


class EnterpriseUpdateSerializer(serializers.Serializer):
    """Fields outside the real-name record; the account manager is given by username."""

    notes = serializers.CharField(max_length=NOTES_MAX, required=False, allow_blank=True)
    account_manager = serializers.CharField(max_length=max_length(User, "username"), required=False)


class DocumentUploadSerializer(serializers.Serializer):
    """E2, P3: fresh photos for a later business; at least one file in total."""

    credential_files = _files("Fresh photo of the original credential (or official letter).")
    responsible_id_files = _files("Fresh photo of the responsible person's ID.")
    authorisation_letter_files = _files("Authorisation letter.")
    business_reference = serializers.CharField(max_length=REFERENCE_MAX, required=False, allow_blank=True)


class LookupSerializer(serializers.Serializer):
    """One of the two: a credential number, or the name of a unit registered with an official letter."""

    credential_number = serializers.CharField(max_length=NUMBER_MAX, required=False)
    unit_name = serializers.CharField(max_length=NAME_MAX, required=False)

    def validate(self, attrs):
        given = [name for name in ("credential_number", "unit_name") if attrs.get(name)]
        if len(given) != 1:
            raise serializers.ValidationError(
                serializers.ErrorDetail(
                    _("Send credential_number, or unit_name for a unit registered with an official letter."),
                    "one_of",
                )
            )
        return attrs


# The fields enterprises.services.enterprise_reveal_field can show in full
# (named in SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
REVEAL_FIELD_CHOICES = [
    ("credential_number", _("Credential number")),
    ("responsible_id_number", _("Responsible person's ID number")),
]


class EnterpriseRevealSerializer(serializers.Serializer):
    field = serializers.ChoiceField(choices=REVEAL_FIELD_CHOICES)


class EnterpriseRevealResponseSerializer(serializers.Serializer):
    field = serializers.ChoiceField(choices=REVEAL_FIELD_CHOICES)
    value = serializers.CharField(help_text="The full value. Logged; never cache it.")


class ChangeRequestSubmitSerializer(serializers.Serializer):
    """E3, P4 (multipart/form-data). Fields are named as at registration.

    target=enterprise: name, credential_type, credential_number, credential_address,
    files = the new credential. target=responsible_person: responsible_*, files = the
    new ID photo, plus authorisation_letter_files when not the legal representative.
    """

    target = serializers.ChoiceField(choices=ChangeTarget.choices)
    name = serializers.CharField(max_length=NAME_MAX, required=False, allow_blank=True)
    unit_kind = serializers.CharField(
        max_length=32, required=False, allow_blank=True, help_text="Left out, the record's kind is kept."
    )
    credential_type = serializers.ChoiceField(choices=CredentialType.choices, required=False)
    credential_number = serializers.CharField(max_length=NUMBER_MAX, required=False, allow_blank=True)
    credential_address = serializers.CharField(max_length=ADDRESS_MAX, required=False, allow_blank=True)
    responsible_name = serializers.CharField(max_length=PERSON_NAME_MAX, required=False, allow_blank=True)
    responsible_id_type = serializers.ChoiceField(choices=PersonalIdType.choices, required=False)
    responsible_id_number = serializers.CharField(max_length=NUMBER_MAX, required=False, allow_blank=True)
    responsible_id_address = serializers.CharField(max_length=PERSON_ADDRESS_MAX, required=False, allow_blank=True)
    responsible_is_legal_representative = StrictBooleanField(required=False)
    files = _files("The new credential (target=enterprise) or the new ID photo (target=responsible_person).")
    authorisation_letter_files = _files("Authorisation letter (responsible_person, not the legal representative).")
    reason = serializers.CharField(max_length=REASON_MAX, required=False, allow_blank=True)

    ENTERPRISE_FIELDS = {
        "name": "name",
        "unit_kind": "unit_kind",
        "credential_type": "credential_type",
        "credential_number": "credential_number",
        "credential_address": "credential_address",
    }
    RESPONSIBLE_FIELDS = {
        "responsible_name": "name",
        "responsible_id_type": "id_type",
        "responsible_id_number": "id_number",
        "responsible_id_address": "id_address",
        "responsible_is_legal_representative": "is_legal_representative",
    }

    def validate(self, attrs):
        if attrs["target"] == ChangeTarget.RESPONSIBLE_PERSON and "responsible_is_legal_representative" not in attrs:
            raise serializers.ValidationError(
                {
                    "responsible_is_legal_representative": serializers.ErrorDetail(
                        _("This field is required."), "required"
                    )
                }
            )
        return attrs

    def proposed_values(self) -> dict:
        """The `values` dict change_request_submit expects, for the chosen target."""
        data = self.validated_data
        names = self.ENTERPRISE_FIELDS if data["target"] == ChangeTarget.ENTERPRISE else self.RESPONSIBLE_FIELDS
        return {service_name: data[api_name] for api_name, service_name in names.items() if api_name in data}


class EnterpriseFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=EnterpriseStatus.choices, required=False)
    name = serializers.CharField(max_length=NAME_MAX, required=False, allow_blank=True)


class MePermissionsSerializer(serializers.Serializer):
    can_register = serializers.BooleanField()
    can_view_full_pii = serializers.BooleanField()


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    full_name = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)
    province = serializers.CharField(allow_null=True, help_text="GB/T 2260 two-digit province code.")
    enterprise = serializers.UUIDField(allow_null=True, help_text="public_id of the user's enterprise (admins).")
    permissions = MePermissionsSerializer()
