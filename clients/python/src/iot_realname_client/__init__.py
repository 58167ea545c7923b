"""Client of the IoT SIM real-name portal's platform API (issue 10 §4).

from iot_realname_client import Client, verify_webhook
"""

__version__ = "0.1.0"

from iot_realname_client.client import Client, Page  # noqa: E402
from iot_realname_client.errors import (  # noqa: E402
    ApiError,
    AuthenticationError,
    ClientError,
    Conflict,
    ConnectionFailed,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    ValidationError,
    WebhookVerificationError,
)
from iot_realname_client.webhooks import sign, verify_webhook  # noqa: E402

__all__ = [
    "ApiError",
    "AuthenticationError",
    "Client",
    "ClientError",
    "Conflict",
    "ConnectionFailed",
    "NotFound",
    "Page",
    "PermissionDenied",
    "RateLimited",
    "ServerError",
    "ValidationError",
    "WebhookVerificationError",
    "__version__",
    "sign",
    "verify_webhook",
]
