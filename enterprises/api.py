"""REST API for enterprise records (/api/v1/).

Thin views: every read goes through enterprises.selectors (scoped to the
user: invisible means 404), every write through enterprises.services, and
the per-action permission comes from the capability table in accounts.permissions
(visible but not allowed means 403), checked
before the request body is even parsed. Errors are DomainErrors, turned into
`{code, detail, field}` JSON by core.api.exception_handler; serializer errors
are turned into the same shape here.

Objects are addressed by their `public_id`. A malformed id is a 404, like an
id the user may not see.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from accounts.permissions import Capability, actor_user, can
from accounts.reveals import personal_file_response
from accounts.throttling import PiiRevealThrottle, with_default_throttles
from core.api import E401, error_response, is_schema_view, validated
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.http import no_store
from core.idempotency import Idempotent
from enterprises import selectors, services
from enterprises.models import ChangeRequest, ChangeRequestStatus, Document, Enterprise
from enterprises.serializers import (
    ChangeRequestSerializer,
    ChangeRequestSubmitSerializer,
    ChangeRequestSummarySerializer,
    DocumentSerializer,
    DocumentUploadSerializer,
    EnterpriseDetailSerializer,
    EnterpriseFilterSerializer,
    EnterpriseListSerializer,
    EnterpriseRegisterSerializer,
    EnterpriseRevealResponseSerializer,
    EnterpriseRevealSerializer,
    EnterpriseUpdateSerializer,
    LookupSerializer,
    MeSerializer,
    UnitKindSerializer,
)
from enterprises.services import EnterpriseData, ResponsiblePersonData

# Texts shared with services/selectors, so a refusal reads the same from every entry point.
MSG_REGISTER_DENIED = _("Only account managers register enterprises.")
MSG_PII_DENIED = _("You do not have the permission to view personal data in full.")
MSG_INVALID_ACCOUNT_MANAGER = _("The managing account manager must be an account manager of the enterprise's province.")
MSG_DOCUMENT_DENIED = _("Your role may not open documents that show personal data.")
MSG_CHANGE_REQUEST_NOT_FOUND = _("The change request does not exist or you have no access to it.")


# --- helpers ----------------------------------------------------------------


def _parse_uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def enterprise_detail_response(request, enterprise: Enterprise, *, status_code=status.HTTP_200_OK, headers=None):
    user = request.user
    documents = selectors.record_documents(
        selectors.documents_visible_to(user).filter(enterprise=enterprise).select_related("change_request")
    )
    context = {
        "request": request,
        "documents": documents,
        "change_requests": selectors.change_requests_visible_to(user).filter(enterprise=enterprise),
    }
    return Response(EnterpriseDetailSerializer(enterprise, context=context).data, status=status_code, headers=headers)


def _account_manager_by_username(username: str) -> User:
    """The user named in a PATCH; enterprise_update checks role and province.

    Unknown and unsuitable users get the same error, so the API does not tell
    which usernames exist.
    """
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise ValidationFailed(MSG_INVALID_ACCOUNT_MANAGER, code="invalid_account_manager", field="account_manager")
    return user


class SafeJSONParser(JSONParser):
    """DRF's JSONParser, with too deeply nested JSON as a 400 instead of a RecursionError (500).

    (Worth making the project-wide default parser: DRF only turns ValueError into ParseError.)
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("JSON parse error: nested too deeply.")) from None


class JsonOnly:
    """Views of this API answer JSON only.

    No browsable-API HTML: the portal pages are the HTML interface, /api/docs/
    the explorer, and one renderer is one less surface that shows personal data.
    """

    renderer_classes: Sequence[type[BaseRenderer]] = [JSONRenderer]


# --- schema helpers -----------------------------------------------------------

ENTERPRISE_ID = OpenApiParameter(
    "public_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The enterprise's public_id."
)
DOCUMENT_ID = OpenApiParameter(
    "public_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The document's public_id."
)
CHANGE_REQUEST_ID = OpenApiParameter(
    "public_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The change request's public_id."
)


E400 = error_response("Invalid input: `field` names the request field, `code` the reason.")
E403 = error_response("The object is visible but the role may not do this.")
E404 = error_response("No such object, a malformed id, or an object outside the user's scope.")
E409 = error_response("Conflicts with existing data (already registered, a change already pending).")
E429 = error_response("Too many full views of personal data; retry after the `Retry-After` header's seconds.")
READ_ERRORS = {401: E401, 403: E403, 404: E404}


# --- enterprises ----------------------------------------------------------------


class EnterpriseListCreateView(Idempotent, JsonOnly, generics.ListAPIView):
    queryset = Enterprise.objects.none()
    serializer_class = EnterpriseListSerializer
    parser_classes = [MultiPartParser]

    def get_queryset(self):
        if is_schema_view(self):
            return Enterprise.objects.none()
        filters = validated(EnterpriseFilterSerializer(data=self.request.query_params))
        # unit_kind.code is in every row (EnterpriseListSerializer): joined, or one query a row.
        queryset = selectors.enterprises_visible_to(self.request.user).select_related("unit_kind")
        if filters.get("status"):
            queryset = queryset.filter(status=filters["status"])
        if filters.get("name"):
            queryset = queryset.filter(name__icontains=filters["name"])
        return queryset

    @extend_schema(
        tags=["enterprises"],
        summary="List the enterprises the user can see",
        parameters=[
            OpenApiParameter(
                "status", OpenApiTypes.STR, enum=["active", "change_pending"], description="Exact status."
            ),
            OpenApiParameter("name", OpenApiTypes.STR, description="Part of the unit name (case-insensitive)."),
        ],
        responses={200: EnterpriseListSerializer(many=True), 400: E400, 401: E401, 403: E403, 404: E404},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["enterprises"],
        summary="Register a first-time enterprise (E1, P1, P2)",
        description=(
            "multipart/form-data. Account managers only; the enterprise is registered in the account manager's "
            "province. unit_kind is a code of GET /api/v1/unit-kinds/; left out, the credential type implies it. "
            "credential_type=official_letter is only for a unit_kind that cannot hold a credential (party and "
            "government organs, the military, ...): name that kind, leave credential_number blank and upload "
            "the letter with seal as credential_files. If the responsible person is not the legal "
            "representative, authorisation_letter_files is required (P1). 409 `already_registered`: the "
            "record is in your province (use the lookup); 409 `registered_in_other_province`: another "
            "province keeps it, as the lookup says too."
        ),
        request=EnterpriseRegisterSerializer,
        responses={201: EnterpriseDetailSerializer, 400: E400, 401: E401, 403: E403, 409: E409},
    )
    def post(self, request, *args, **kwargs):
        if not can(request.user, Capability.ENTERPRISE_REGISTER):
            raise PermissionDenied(MSG_REGISTER_DENIED)
        data = validated(EnterpriseRegisterSerializer(data=request.data))
        record = services.enterprise_register(
            actor=request.user,
            enterprise=EnterpriseData(
                name=data["name"],
                credential_type=data["credential_type"],
                credential_number=data.get("credential_number", ""),
                credential_address=data["credential_address"],
                unit_kind=data.get("unit_kind", ""),
            ),
            responsible=ResponsiblePersonData(
                name=data["responsible_name"],
                id_type=data["responsible_id_type"],
                id_number=data["responsible_id_number"],
                id_address=data["responsible_id_address"],
                is_legal_representative=data["responsible_is_legal_representative"],
            ),
            credential_files=data["credential_files"],
            responsible_id_files=data["responsible_id_files"],
            authorisation_letter_files=data.get("authorisation_letter_files", []),
            business_reference=data.get("business_reference", ""),
        )
        enterprise = selectors.enterprise_for_user(request.user, record.public_id)
        location = request.build_absolute_uri(reverse("api:enterprise-detail", kwargs={"public_id": record.public_id}))
        return enterprise_detail_response(
            request, enterprise, status_code=status.HTTP_201_CREATED, headers={"Location": location}
        )


class EnterpriseLookupView(JsonOnly, generics.GenericAPIView):
    parser_classes = [SafeJSONParser]

    @extend_schema(
        tags=["enterprises"],
        summary="Find a returning customer by its credential number, or a letter unit by its name (E2)",
        description="POST, so the number never appears in a URL or an access log. Send `credential_number`, or "
        "`unit_name` for a unit registered with an official letter (found within the user's province; spaces "
        "and punctuation do not matter). Only enterprises in the user's scope are found: 404 otherwise, the "
        "same for a number nobody holds. For an account manager, a number another province holds answers 409 "
        "`registered_in_other_province`, as the registration does.",
        request=LookupSerializer,
        responses={200: EnterpriseDetailSerializer, 400: E400, 401: E401, 403: E403, 404: E404, 409: E409},
    )
    def post(self, request, *args, **kwargs):
        data = validated(LookupSerializer(data=request.data))
        if data.get("credential_number"):
            enterprise = selectors.enterprise_by_credential_number(request.user, data["credential_number"])
        else:
            enterprise = selectors.enterprise_by_unit_name(request.user, data["unit_name"])
        return enterprise_detail_response(request, enterprise)


class UnitKindListView(JsonOnly, generics.ListAPIView):
    """Reference data, the same for every user: no tenant's data in it."""

    serializer_class = UnitKindSerializer
    pagination_class = None

    def get_queryset(self):
        return selectors.unit_kinds_offered()

    @extend_schema(
        tags=["enterprises"],
        summary="The kinds of unit a registration or a change may name (E1)",
        description="`cannot_hold_credential`: units of this kind may register with credential_type=official_letter.",
        responses={200: UnitKindSerializer(many=True), 401: E401, 403: E403},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class EnterpriseDetailView(JsonOnly, generics.GenericAPIView):
    queryset = Enterprise.objects.none()
    lookup_field = lookup_url_kwarg = "public_id"
    http_method_names = ["get", "patch", "head", "options"]
    parser_classes = [SafeJSONParser]

    @extend_schema(
        tags=["enterprises"],
        summary="An enterprise, masked, with its documents and change requests",
        parameters=[ENTERPRISE_ID],
        responses={200: EnterpriseDetailSerializer, **READ_ERRORS},
    )
    def get(self, request, public_id):
        return enterprise_detail_response(request, selectors.enterprise_for_user(request.user, public_id))

    @extend_schema(
        tags=["enterprises"],
        summary="Edit notes or the managing account manager",
        description="Real-name data cannot be edited here: that is a change request (E3, P4).",
        parameters=[ENTERPRISE_ID],
        request=EnterpriseUpdateSerializer,
        responses={200: EnterpriseDetailSerializer, 400: E400, **READ_ERRORS},
    )
    def patch(self, request, public_id):
        enterprise = selectors.enterprise_for_action(request.user, public_id, capability=Capability.ENTERPRISE_EDIT)
        data = validated(EnterpriseUpdateSerializer(data=request.data))
        manager = _account_manager_by_username(data["account_manager"]) if "account_manager" in data else None
        services.enterprise_update(
            actor=request.user, enterprise=enterprise, notes=data.get("notes"), account_manager=manager
        )
        return enterprise_detail_response(request, selectors.enterprise_for_user(request.user, public_id))


class EnterpriseDocumentsView(Idempotent, JsonOnly, generics.ListAPIView):
    queryset = Document.objects.none()
    serializer_class = DocumentSerializer
    lookup_field = lookup_url_kwarg = "public_id"
    parser_classes = [MultiPartParser]

    def get_queryset(self):
        if is_schema_view(self):
            return Document.objects.none()
        enterprise = selectors.enterprise_for_user(self.request.user, self.kwargs["public_id"])
        return selectors.record_documents(
            selectors.documents_visible_to(self.request.user)
            .filter(enterprise=enterprise)
            .select_related("change_request")
        )

    @extend_schema(
        tags=["documents"],
        summary="All document versions of an enterprise",
        description=(
            "The record's own versions. A pending, rejected or withdrawn change request's documents belong to "
            "that request (see its `documents`); they join this list only once the request is approved."
        ),
        parameters=[ENTERPRISE_ID],
        responses={200: DocumentSerializer(many=True), **READ_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["documents"],
        summary="Upload fresh document photos for a later business (E2, P3)",
        description="multipart/form-data; at least one file. Each file becomes a new version; earlier versions stay.",
        parameters=[ENTERPRISE_ID],
        request=DocumentUploadSerializer,
        responses={201: DocumentSerializer(many=True), 400: E400, **READ_ERRORS},
    )
    def post(self, request, public_id):
        enterprise = selectors.enterprise_for_action(
            request.user, public_id, capability=Capability.ENTERPRISE_UPLOAD_DOCUMENTS
        )
        data = validated(DocumentUploadSerializer(data=request.data))
        created = services.enterprise_upload_documents(
            actor=request.user,
            enterprise=enterprise,
            credential_files=data.get("credential_files", []),
            responsible_id_files=data.get("responsible_id_files", []),
            authorisation_letter_files=data.get("authorisation_letter_files", []),
            business_reference=data.get("business_reference", ""),
        )
        body = DocumentSerializer(created, many=True, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)


class DocumentDownloadView(JsonOnly, generics.GenericAPIView):
    queryset = Document.objects.none()
    lookup_field = lookup_url_kwarg = "public_id"

    def perform_content_negotiation(self, request, force=False):
        # The body is the file whatever the client accepts; errors stay JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        tags=["documents"],
        summary="Download one document version",
        description="Roles that may view personal data in full, and the enterprise's own admin (ops may list "
        "documents but not open them). Each download is a logged full view and spends the reveal budget "
        "(scope pii_reveal, shared with the reveal endpoints). Served with Cache-Control: no-store and a neutral "
        "file name.",
        parameters=[DOCUMENT_ID],
        responses={
            (200, "image/jpeg"): OpenApiTypes.BINARY,
            (200, "image/png"): OpenApiTypes.BINARY,
            (200, "image/webp"): OpenApiTypes.BINARY,
            (200, "application/pdf"): OpenApiTypes.BINARY,
            **READ_ERRORS,
            429: E429,
        },
    )
    def get(self, request, public_id):
        document = selectors.document_for_user(request.user, public_id)
        if not can(request.user, Capability.ENTERPRISE_FILES_OPEN, document.enterprise):
            raise PermissionDenied(MSG_DOCUMENT_DENIED)
        # A document image shows the ID or credential in full: a budgeted, logged full view.
        return personal_file_response(
            request,
            obj=document,
            field="file",
            field_file=document.file,
            content_type=document.content_type,
            as_attachment=True,
            filename=f"document-{document.kind}-v{document.version}{document.extension}",
        )


class EnterpriseRevealView(JsonOnly, generics.GenericAPIView):
    queryset = Enterprise.objects.none()
    lookup_field = lookup_url_kwarg = "public_id"
    parser_classes = [SafeJSONParser]
    throttle_classes = with_default_throttles(PiiRevealThrottle)

    @extend_schema(
        tags=["enterprises"],
        summary="Show one personal-data field in full (logged)",
        description="Needs the view_full_pii permission. Each call is logged with actor, time, object and IP, "
        "and throttled (scope pii_reveal). The response must not be cached.",
        parameters=[ENTERPRISE_ID],
        request=EnterpriseRevealSerializer,
        responses={200: EnterpriseRevealResponseSerializer, 400: E400, **READ_ERRORS, 429: E429},
    )
    def post(self, request, public_id):
        enterprise = selectors.enterprise_for_user(request.user, public_id)
        if not can(request.user, Capability.VIEW_FULL_PII):
            raise PermissionDenied(MSG_PII_DENIED)
        data = validated(EnterpriseRevealSerializer(data=request.data))
        value = services.enterprise_reveal_field(
            actor=request.user, enterprise=enterprise, field=data["field"], request=request
        )
        return no_store(Response({"field": data["field"], "value": value}))


# --- change requests (E3, P4) -------------------------------------------------------


class EnterpriseChangeRequestsView(Idempotent, JsonOnly, generics.ListAPIView):
    queryset = ChangeRequest.objects.none()
    serializer_class = ChangeRequestSummarySerializer
    lookup_field = lookup_url_kwarg = "public_id"
    parser_classes = [MultiPartParser]

    def get_queryset(self):
        if is_schema_view(self):
            return ChangeRequest.objects.none()
        enterprise = selectors.enterprise_for_user(self.request.user, self.kwargs["public_id"])
        queryset = selectors.change_requests_visible_to(self.request.user).filter(enterprise=enterprise)
        params = self.request.query_params
        if params.get("status"):
            if params["status"] not in ChangeRequestStatus.values:
                raise ValidationFailed(_("Unknown status."), code="invalid_choice", field="status")
            queryset = queryset.filter(status=params["status"])
        return selectors.search_change_requests(queryset, params.get("search")).order_by("-created_at", "-pk")

    @extend_schema(
        tags=["change requests"],
        summary="The change requests of an enterprise",
        parameters=[
            ENTERPRISE_ID,
            OpenApiParameter("status", OpenApiTypes.STR, required=False, enum=ChangeRequestStatus.values),
            OpenApiParameter(
                "search",
                OpenApiTypes.STR,
                required=False,
                description="The request's public_id (whole), what changes (its code or a part of its label), "
                "or a part of the reason given.",
            ),
        ],
        responses={200: ChangeRequestSummarySerializer(many=True), **READ_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["change requests"],
        summary="Request a change of real-name data (E3, P4)",
        description="multipart/form-data. The record changes only once the request is approved. One open "
        "request per enterprise and target (409 otherwise).",
        parameters=[ENTERPRISE_ID],
        request=ChangeRequestSubmitSerializer,
        responses={201: ChangeRequestSerializer, 400: E400, **READ_ERRORS, 409: E409},
    )
    def post(self, request, public_id):
        enterprise = selectors.enterprise_for_action(request.user, public_id, capability=Capability.CHANGE_REQUEST_FILE)
        serializer = ChangeRequestSubmitSerializer(data=request.data)
        data = validated(serializer)
        change_request = services.change_request_submit(
            actor=request.user,
            enterprise=enterprise,
            target=data["target"],
            values=serializer.proposed_values(),
            files=data.get("files", []),
            authorisation_letter_files=data.get("authorisation_letter_files", []),
            reason=data.get("reason", ""),
        )
        return change_request_response(request, change_request, status_code=status.HTTP_201_CREATED)


def change_request_response(request, change_request: ChangeRequest, *, status_code=status.HTTP_200_OK):
    context = {
        "request": request,
        "documents": selectors.documents_visible_to(request.user).filter(change_request=change_request),
    }
    return Response(ChangeRequestSerializer(change_request, context=context).data, status=status_code)


class ChangeRequestDetailView(JsonOnly, generics.GenericAPIView):
    queryset = ChangeRequest.objects.none()
    lookup_field = lookup_url_kwarg = "public_id"

    @extend_schema(
        tags=["change requests"],
        summary="One change request; proposed numbers masked",
        parameters=[CHANGE_REQUEST_ID],
        responses={200: ChangeRequestSerializer, **READ_ERRORS},
    )
    def get(self, request, public_id):
        key = _parse_uuid(public_id)
        change_request = (
            selectors.change_requests_visible_to(request.user).filter(public_id=key).first() if key else None
        )
        if change_request is None:
            raise NotFound(MSG_CHANGE_REQUEST_NOT_FOUND)
        return change_request_response(request, change_request)


# --- the current user ------------------------------------------------------------


class MeView(JsonOnly, APIView):
    # A platform key may ask too: integrators learn which enterprise (a test key's sandbox) the key acts for.

    @extend_schema(
        tags=["me"],
        summary="The current user and what the UI may offer them",
        responses={200: MeSerializer, 401: E401, 403: E403},
    )
    def get(self, request):
        user = request.user
        if actor_user(user) is None:
            # A platform API key (no user row): it acts as its enterprise's admin, for the enterprise it names
            # (a test key's sandbox, issue 10 §5); "username" is what is shown of the key, never the key.
            enterprise = Enterprise.objects.filter(pk=user.enterprise_id).first()
            username, full_name, province = str(user), "", None
        else:
            enterprise = user.enterprise if user.enterprise_id else None
            username, full_name = user.username, user.full_name
            province = user.province if user.province_id else None
        body = {
            "username": username,
            "full_name": full_name,
            "role": user.role,
            "province": province.code if province is not None else None,
            "enterprise": enterprise.public_id if enterprise is not None else None,
            "permissions": {
                "can_register": can(user, Capability.ENTERPRISE_REGISTER),
                "can_view_full_pii": can(user, Capability.VIEW_FULL_PII),
            },
        }
        return Response(MeSerializer(body).data)
