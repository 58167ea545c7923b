"""Typed domain errors, and what they carry.

Services raise these; they are turned into answers in one place each: the API's exception handler
(core.api.exception_handler), the pages' middleware (core.middleware.DomainErrorMiddleware) and, on a
form, core.forms.add_domain_error. An error carries its HTTP status, a stable `code`, a translated
`message`, the `field` it is about, and `extra`: more of the answer's body (e.g. the rule decision behind
a refusal), so no caller has to catch one kind of error to say more about it.
Messages and `extra` must never contain personal data in the clear.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DomainError(Exception):
    """A business rule refused the action. `code` is stable and machine-readable."""

    status_code = 400
    default_code = "invalid"

    def __init__(
        self,
        message,
        *,
        code: str | None = None,
        field: str | None = None,
        params: dict | None = None,
        extra: Mapping[str, Any] | None = None,
    ):
        super().__init__(str(message))
        self.message = message
        self.code = code or self.default_code
        self.field = field
        self.params = params or {}
        self._extra = dict(extra or {})

    @property
    def extra(self) -> dict[str, Any]:
        """More of the answer's body; subclasses may compute it when it is rendered (its language)."""
        return self._extra

    def body(self) -> dict[str, Any]:
        """The error as the API answers it: {"code", "detail", "field"?, ...extra}."""
        body: dict[str, Any] = {"code": self.code, "detail": str(self.message)}
        if self.field:
            body["field"] = self.field
        body.update(self.extra)
        return body

    def headers(self) -> dict[str, str]:
        return {}


class ValidationFailed(DomainError):
    default_code = "invalid"


class PermissionDenied(DomainError):
    status_code = 403
    default_code = "permission_denied"


class NotFound(DomainError):
    status_code = 404
    default_code = "not_found"


class Conflict(DomainError):
    status_code = 409
    default_code = "conflict"


class InvalidTransition(Conflict):
    default_code = "invalid_transition"


# Refusals about the page itself rather than what was entered on it: a page that catches a domain
# error to show it on its form lets these through to core.middleware, which renders 404 or 403.
PAGE_ERRORS: tuple[type[DomainError], ...] = (NotFound, PermissionDenied)


class RetryLater(DomainError):
    """Refused for now: try again in `retry_after` seconds. Both answers carry Retry-After
    (core.api for the API, core.middleware for pages)."""

    def __init__(self, message, *, retry_after: int, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = max(1, int(retry_after))

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ServiceUnavailable(RetryLater):
    """A service the action needs is down (database, cache): 503."""

    status_code = 503
    default_code = "service_unavailable"

    def __init__(self, message, *, retry_after: int = 30, **kwargs):
        super().__init__(message, retry_after=retry_after, **kwargs)


class Throttled(RetryLater):
    """A budget is spent (e.g. full views of personal data): 429."""

    status_code = 429
    default_code = "throttled"
