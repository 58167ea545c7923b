"""DRF glue: domain errors become JSON errors with their code and field."""

from __future__ import annotations

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError
from verification.identity import IdentityError
from verification.uploads import UploadRejected


def error_payload(exc: DomainError | IdentityError | UploadRejected, field: str | None = None) -> dict:
    body = {"code": exc.code, "detail": str(exc.message)}
    field = field or getattr(exc, "field", None)
    if field:
        body["field"] = field
    return body


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(error_payload(exc), status=exc.status_code)
    if isinstance(exc, (IdentityError, UploadRejected)):
        return Response(error_payload(exc), status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
