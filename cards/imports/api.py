"""REST API of the bulk card import (/api/v1/card-imports/).

Thin views over cards.imports: the upload is checked and queued by
card_import_create, the import runs as a Celery task, and clients poll the
status (the page's progress bar polls the same endpoint). Reads are scoped like
the enterprise (another province or enterprise: 404); only account managers
(their province) and enterprise admins (their own enterprise) upload;
approvers and ops read only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
)
from rest_framework import generics, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from accounts.permissions import Capability, may_somewhere
from cards.imports import parsing, report, selectors, services
from cards.inventory.api_base import E403_READ, require_reads
from cards.models import CardImport
from core.api import E401, absolute_url, error_response
from core.errors import PermissionDenied, ValidationFailed
from core.http import no_store
from core.idempotency import Idempotent
from enterprises import selectors as enterprise_selectors

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MSG_ENTERPRISE_REQUIRED = _("Choose the enterprise to import the cards for.")


# --- serializers ----------------------------------------------------------------


class ImportErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="The row number as Excel shows it (the header row is 1).")
    column = serializers.CharField(help_text="The column name, e.g. iccid; empty for a whole-row error.")
    code = serializers.CharField(
        help_text="missing_value, invalid_iccid, invalid_iccid_checksum, invalid_msisdn, invalid_imsi, "
        "rounded_number, unknown_package, package_unavailable, invalid_level, duplicate_in_file, "
        "already_registered, extra_cells, sandbox_number_range (a test key's file names a number outside its "
        "sandbox's range) or sandbox_number_reserved (a sandbox number in a real enterprise's file)."
    )
    value = serializers.CharField(help_text="The value found in the cell (shortened).")
    message = serializers.CharField(help_text="The explanation, in the request's language.")


class CardImportSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    enterprise = serializers.UUIDField(source="enterprise.public_id", read_only=True)
    enterprise_name = serializers.CharField(source="enterprise.name", read_only=True)
    status = serializers.CharField(
        read_only=True, help_text="pending, running, succeeded (every card imported) or failed (none imported)."
    )
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    file_format = serializers.CharField(read_only=True, help_text="csv or xlsx, detected from the content.")
    total_rows = serializers.IntegerField(read_only=True, help_text="Card rows in the file (known once it is read).")
    processed_rows = serializers.IntegerField(read_only=True, help_text="Rows validated so far.")
    progress_percent = serializers.SerializerMethodField()
    imported_rows = serializers.IntegerField(read_only=True)
    error_count = serializers.IntegerField(read_only=True, help_text="All errors found, stored or not.")
    errors = serializers.SerializerMethodField()  # type: ignore[assignment]  # a field: the metaclass lifts it off the class
    failure_message = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    finished_at = serializers.DateTimeField(read_only=True, allow_null=True)
    status_url = serializers.SerializerMethodField()
    errors_csv_url = serializers.SerializerMethodField()
    page_url = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.INT)
    def get_progress_percent(self, job: CardImport) -> int:
        return selectors.progress_percent(job)

    @extend_schema_field(ImportErrorSerializer(many=True))
    def get_errors(self, job: CardImport) -> list[dict]:
        rows = report.error_rows(job, limit=report.ERRORS_SHOWN)
        listed = ImportErrorSerializer(
            [
                {**row, "row": row.get("row") or 0, "column": row.get("column", ""), "value": row.get("value", "")}
                for row in rows
            ],
            many=True,
        ).data
        # many=True builds a ListSerializer, whose .data is a list; the stubs give the child's ReturnDict.
        return cast(list[dict], listed)

    def _url(self, name: str, job: CardImport) -> str:
        return absolute_url(self.context.get("request"), reverse(name, kwargs={"public_id": job.public_id}))

    @extend_schema_field(OpenApiTypes.URI)
    def get_status_url(self, job: CardImport) -> str:
        return self._url("api:card-import-detail", job)

    @extend_schema_field(OpenApiTypes.URI)
    def get_errors_csv_url(self, job: CardImport) -> str:
        return self._url("api:card-import-errors", job)

    @extend_schema_field(OpenApiTypes.URI)
    def get_page_url(self, job: CardImport) -> str:
        return self._url("card_imports:detail", job)


class CardImportUploadSerializer(serializers.Serializer):
    enterprise = serializers.CharField(help_text="The enterprise's public_id.")
    file = serializers.FileField(help_text=parsing.COLUMNS_HELP, allow_empty_file=True)


E400 = error_response(
    "The file is refused whole: `code` is empty, no_rows, too_large, too_many_rows, unsupported_type, "
    "unknown_encoding, corrupt, malformed_csv or wrong_header (the message names the expected columns)."
)
E403 = error_response("The role may not import cards (approvers and ops read only), or not for this enterprise.")
E404 = error_response("No such import or enterprise, a malformed id, or one outside the user's scope.")
IMPORT_ID = OpenApiParameter("public_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The import's id.")


class JsonOnly:
    renderer_classes: Sequence[type[BaseRenderer]] = [JSONRenderer]


def _download(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return no_store(response)


# --- views ----------------------------------------------------------------------


class CardImportListCreateView(Idempotent, JsonOnly, generics.ListAPIView):
    queryset = CardImport.objects.none()
    serializer_class = CardImportSerializer
    parser_classes = [MultiPartParser]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CardImport.objects.none()
        require_reads(self.request.user)
        return selectors.card_imports_visible_to(self.request.user).order_by("-created_at", "-pk")

    @extend_schema(
        tags=["card imports"],
        summary="List the card imports the user can see",
        responses={200: CardImportSerializer(many=True), 401: E401, 403: E403_READ},
    )
    def get(self, request, *args, **kwargs):
        return no_store(super().get(request, *args, **kwargs))

    @extend_schema(
        tags=["card imports"],
        summary="Upload a card file (CSV or XLSX) for an enterprise",
        description=(
            "multipart/form-data with `enterprise` (public_id) and `file`. "
            + parsing.COLUMNS_HELP
            + " Templates: GET /api/v1/card-imports/template.csv and template.xlsx. The file's type, encoding "
            "and header are checked at once (400 on a bad file). The rows are then validated and imported by a "
            "background task: poll `status_url` until `status` is succeeded or failed; a failed import wrote "
            "no card and lists its errors (the first 100 here, up to 1000 in errors.csv)."
        ),
        request=CardImportUploadSerializer,
        responses={202: CardImportSerializer, 400: E400, 401: E401, 403: E403, 404: E404},
    )
    def post(self, request, *args, **kwargs):
        if not may_somewhere(request.user, Capability.CARDS_IMPORT):
            raise PermissionDenied(services.MSG_NOT_ALLOWED)
        enterprise_id = request.data.get("enterprise")
        if not enterprise_id:
            raise ValidationFailed(MSG_ENTERPRISE_REQUIRED, code="required", field="enterprise")
        enterprise = enterprise_selectors.enterprise_for_user(request.user, enterprise_id)
        job = services.card_import_create(actor=request.user, enterprise=enterprise, upload=request.FILES.get("file"))
        job = selectors.card_import_for_user(request.user, job.public_id)  # re-read: eager mode has finished it
        data = CardImportSerializer(job, context={"request": request}).data
        return no_store(Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": data["status_url"]}))


class CardImportDetailView(JsonOnly, generics.GenericAPIView):
    queryset = CardImport.objects.none()
    serializer_class = CardImportSerializer

    @extend_schema(
        tags=["card imports"],
        summary="The status and progress of one card import",
        parameters=[IMPORT_ID],
        responses={200: CardImportSerializer, 401: E401, 404: E404},
    )
    def get(self, request, public_id):
        job = selectors.card_import_for_user(request.user, public_id)
        return no_store(Response(CardImportSerializer(job, context={"request": request}).data))


class CardImportErrorsView(JsonOnly, generics.GenericAPIView):
    queryset = CardImport.objects.none()

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        tags=["card imports"],
        summary="The error report of a card import (CSV, UTF-8 with BOM)",
        description="Columns: row, column, value, code, message. Up to 1000 errors; a last line says when more "
        "were found.",
        parameters=[IMPORT_ID],
        responses={(200, "text/csv"): OpenApiTypes.BINARY, 401: E401, 404: E404},
    )
    def get(self, request, public_id):
        job = selectors.card_import_for_user(request.user, public_id)
        return _download(report.error_report_csv(job), CSV_TYPE, f"card-import-errors-{str(job.public_id)[:8]}.csv")


class CardImportTemplateCsvView(JsonOnly, generics.GenericAPIView):
    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        tags=["card imports"],
        summary="The card file template (CSV, UTF-8 with BOM: the header row)",
        description=parsing.COLUMNS_HELP,
        responses={(200, "text/csv"): OpenApiTypes.BINARY, 401: E401},
    )
    def get(self, request):
        return _download(report.template_csv(), CSV_TYPE, "card-import-template.csv")


class CardImportTemplateXlsxView(JsonOnly, generics.GenericAPIView):
    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        tags=["card imports"],
        summary="The card file template (XLSX: header row, text-formatted columns, a help sheet)",
        description=parsing.COLUMNS_HELP,
        responses={(200, XLSX_TYPE): OpenApiTypes.BINARY, 401: E401},
    )
    def get(self, request):
        return _download(report.template_xlsx(), XLSX_TYPE, "card-import-template.xlsx")
