"""DRF glue: domain errors become JSON errors with their code and field; a query parameter the operation does
not document is refused (400 unknown_query_parameter), so that a misspelt filter is never silently ignored."""

from __future__ import annotations

import functools
import threading

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError, ValidationFailed
from core.identity import mask_numbers_in_text


def exception_handler(exc, context):
    """The API's one mapping of errors: a domain error answers with its status, body and headers."""
    if isinstance(exc, DomainError):
        return Response(exc.body(), status=exc.status_code, headers=exc.headers())
    response = drf_exception_handler(exc, context)
    # DRF's own errors (authentication, throttling, parsing, routing) get their code too, so every
    # error body has one: {"code": "not_authenticated", "detail": "..."}.
    if response is not None and isinstance(response.data, dict) and set(response.data) == {"detail"}:
        code = getattr(response.data["detail"], "code", None)
        if isinstance(code, str):
            response.data = {"code": code, "detail": response.data["detail"]}
    return response


# --- helpers shared by the apps' API views ------------------------------------


class ErrorSerializer(serializers.Serializer):
    """The body of every error response."""

    code = serializers.CharField(
        required=False,
        help_text="Stable machine-readable reason, e.g. invalid_checksum, required, corrupt, already_registered, "
        "change_pending, permission_denied, not_found, not_authenticated, throttled, parse_error, "
        "service_unavailable; for the Idempotency-Key header idempotency_key_required, invalid_idempotency_key, "
        "idempotency_key_reused (422), idempotency_request_in_progress (409).",
    )
    detail = serializers.CharField(help_text="Translated message for the user; never contains personal data.")
    field = serializers.CharField(required=False, help_text="The request field the error is about, when there is one.")


class MaskedTextField(serializers.CharField):
    """Free text people wrote (a comment, a reason), read-only, with ID and credential numbers masked."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        kwargs.setdefault(
            "help_text", "Free text as written, with anything shaped like an ID or credential number masked."
        )
        super().__init__(**kwargs)

    def to_representation(self, value):
        return mask_numbers_in_text(super().to_representation(value))


def error_response(description: str) -> OpenApiResponse:
    """An error status in the OpenAPI schema: the shared error body, with what it means here."""
    return OpenApiResponse(ErrorSerializer, description=description)


E401 = error_response("Not authenticated: no or an invalid token or session. Sent with `WWW-Authenticate: Token`.")


def absolute_url(request, url: str) -> str:
    """The URL with scheme and host when there is a request (a serializer may run without one)."""
    return request.build_absolute_uri(url) if request is not None else url


def is_schema_view(view) -> bool:
    """True while drf-spectacular builds the schema (no real request, no URL kwargs)."""
    return getattr(view, "swagger_fake_view", False)


def _first_error(errors, field=None):
    """(top-level field name or None, first ErrorDetail) of a serializer's errors."""
    if isinstance(errors, dict):
        key, value = next(iter(errors.items()))
        if field is None and key != api_settings.NON_FIELD_ERRORS_KEY:
            field = str(key)
        return _first_error(value, field)
    if isinstance(errors, list):
        return _first_error(errors[0], field)
    return field, errors


def validated(serializer) -> dict:
    """Validate a serializer; a shape error becomes a ValidationFailed (400) naming its field and code."""
    if not serializer.is_valid():
        field, detail = _first_error(serializer.errors)
        raise ValidationFailed(str(detail), code=getattr(detail, "code", None) or "invalid", field=field)
    return serializer.validated_data


PAGINATION_PARAMETERS = ("page", "cursor")
MSG_NO_SUCH_PAGE = (
    "No such page: `page` is past the last page or not a number, or `cursor` is not one this list gave "
    "(code `not_found`)."
)


class NewestFirstPagination(CursorPagination):
    """A list newest first by keyset on (created_at DESC, id DESC), which the list's index serves: no COUNT
    over the scope and no OFFSET, however long the list grows (issue 12 §1.4)."""

    ordering = ("-created_at", "-pk")
    page_size = 50
    page_size_query_param = None


def document_pagination_errors(result, generator, request, public):
    """drf-spectacular postprocessing hook: a paginated list answers 404 for a page or cursor it never
    gave (DRF's paginators raise NotFound), so every list with such a parameter documents that 404."""
    for item in result.get("paths", {}).values():
        operation = item.get("get")
        if not operation:
            continue
        names = {p.get("name") for p in operation.get("parameters", []) if p.get("in") == "query"}
        if names & set(PAGINATION_PARAMETERS) and "404" not in operation["responses"]:
            operation["responses"]["404"] = {
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                "description": MSG_NO_SUCH_PAGE,
            }
    return result


# --- unknown query parameters ----------------------------------------------------------------------

# DRF's own: the renderer override (URL_FORMAT_OVERRIDE), which the schema does not list.
ALWAYS_KNOWN_QUERY_PARAMETERS = frozenset({"format"})
MSG_UNKNOWN_QUERY_PARAMETER = _(
    "This request has a query parameter that this endpoint does not know: it would be ignored. "
    "`allowed` lists the ones it knows."
)
_DOCUMENTED_LOCK = threading.Lock()


@functools.cache
def _documented_query_parameters() -> dict[tuple[type, str], frozenset[str]]:
    # The generator's own walk over the URLconf, so that what is accepted is exactly what the schema
    # documents (filters, pagination): one operation per (view class, method), as /api/schema/ builds it.
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.settings import spectacular_settings

    generator = SchemaGenerator()
    generator._initialise_endpoints()
    known: dict[tuple[type, str], frozenset[str]] = {}
    for path, path_regex, method, view in generator._get_paths_and_endpoints():
        view.request = spectacular_settings.GET_MOCK_REQUEST(method, path, view, None)
        operation = view.schema.get_operation(path, path_regex, "", method, generator.registry)
        if not operation:
            continue
        names = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
        key = (type(view), method.upper())
        known[key] = known.get(key, frozenset()) | names
    return known


def documented_query_parameters(view_class: type, method: str) -> frozenset[str] | None:
    """The query parameters the schema documents for this view and method, or None for an operation the
    schema leaves out (the schema and docs views themselves, OPTIONS)."""
    with _DOCUMENTED_LOCK:  # built once per process, on the first API request
        known = _documented_query_parameters()
    found = known.get((view_class, "GET" if method.upper() == "HEAD" else method.upper()))
    return None if found is None else found | ALWAYS_KNOWN_QUERY_PARAMETERS


def check_query_parameters(view_class: type, method: str, names) -> None:
    """Refuse a request that names a query parameter its operation does not document (400
    unknown_query_parameter, `field` the first such name, `allowed` every known one). The names are the
    caller's own, masked all the same: a misplaced ID number must not come back in the clear."""
    allowed = documented_query_parameters(view_class, method)
    if allowed is None:
        return
    unknown = sorted(set(names) - allowed)
    if unknown:
        raise ValidationFailed(
            MSG_UNKNOWN_QUERY_PARAMETER,
            code="unknown_query_parameter",
            field=mask_numbers_in_text(unknown[0])[:100],
            extra={"unknown": [mask_numbers_in_text(name)[:100] for name in unknown[:20]], "allowed": sorted(allowed)},
        )


MSG_UNKNOWN_PARAMETER_400 = (
    "Invalid input, or a query parameter this operation does not document (code `unknown_query_parameter`; "
    "`allowed` lists the known ones)."
)


def document_unknown_parameter_errors(result, generator, request, public):
    """drf-spectacular postprocessing hook: every operation may answer 400 unknown_query_parameter
    (core.middleware.ApiQueryParametersMiddleware), so each documents a 400."""
    for item in result.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            operation["responses"].setdefault(
                "400",
                {
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    "description": MSG_UNKNOWN_PARAMETER_400,
                },
            )
    return result
