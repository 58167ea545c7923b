"""Typed errors: every non-2xx answer becomes an ApiError subclass carrying the API's error body.

The portal's error body is `{"code", "detail", "field"?}`; `code` is stable and meant for programs,
`detail` is a translated sentence for people.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ClientError(Exception):
    """Base of everything this package raises."""


class ApiError(ClientError):
    """The API answered with an error status."""

    def __init__(
        self,
        status: int,
        code: str | None = None,
        detail: str = "",
        field: str | None = None,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        self.body = body
        self.headers: dict[str, str] = dict(headers or {})
        self.request_id = request_id
        super().__init__(self._message())

    def _message(self) -> str:
        parts = [f"HTTP {self.status}"]
        if self.code:
            parts.append(self.code)
        if self.field:
            parts.append(f"field={self.field}")
        text = " ".join(parts)
        return f"{text}: {self.detail}" if self.detail else text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, field={self.field!r})"


class ValidationError(ApiError):
    """400 or 422: the request was refused as it stands; `field` names the input at fault when known."""


class AuthenticationError(ApiError):
    """401: no key, or an unknown, expired or revoked one."""


class PermissionDenied(ApiError):
    """403: the key's scopes (or the enterprise's role) do not allow this."""


class NotFound(ApiError):
    """404: no such object, or one outside the key's enterprise."""


class Conflict(ApiError):
    """409: the objects' state does not allow it, or the same Idempotency-Key is still running."""


class RateLimited(ApiError):
    """429 after the client's own retries: `retry_after` is the server's last Retry-After, in seconds."""

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(*args, **kwargs)


class ServerError(ApiError):
    """5xx after the client's own retries."""


class ConnectionFailed(ClientError):
    """No answer at all (refused, reset, timed out) after the client's own retries."""


class WebhookVerificationError(ClientError):
    """A callback whose headers or signature do not verify: answer it with 400 and do not process it."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    422: ValidationError,
    429: RateLimited,
}


def error_class(status: int) -> type[ApiError]:
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, ApiError)


__all__ = [
    "ApiError",
    "AuthenticationError",
    "ClientError",
    "Conflict",
    "ConnectionFailed",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "ServerError",
    "ValidationError",
    "WebhookVerificationError",
    "error_class",
]
