"""Verify the portal's callbacks, to the Standard Webhooks specification (https://www.standardwebhooks.com/).

Each callback carries `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`: one or more
space-separated `v1,<base64 HMAC-SHA256>` of `"{id}.{timestamp}.{body}"`, keyed with the base64-decoded
part of the endpoint's `whsec_...` secret. While a secret is being rotated the portal signs with both, so
a receiver that knows either secret verifies. `webhook-id` stays the same on every retry of one event:
use it to drop duplicates.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any, Union

from iot_realname_client.errors import WebhookVerificationError

SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE = 300  # seconds, either way: the spec's (and its reference library's) five minutes

Secret = Union[str, bytes]  # noqa: UP007 - a runtime alias: `X | Y` fails on Python 3.9, which the client supports


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    """A header by name, whatever the case; WSGI environ keys (HTTP_WEBHOOK_ID) are accepted too."""
    wanted = name.lower()
    environ_name = "http_" + wanted.replace("-", "_")
    for key, value in headers.items():
        lowered = str(key).lower()
        if lowered == wanted or lowered == environ_name:
            if isinstance(value, bytes):
                value = value.decode("latin-1")
            return str(value)
    return None


def _key(secret: Secret) -> bytes:
    if isinstance(secret, bytes):
        if not secret:
            raise WebhookVerificationError("The webhook secret is empty.")
        return secret
    text = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    try:
        # Unpadded base64 is accepted, as the spec's reference library accepts it.
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookVerificationError("The webhook secret is not base64 (expected whsec_...).") from None
    if not key:
        raise WebhookVerificationError("The webhook secret is empty.")
    return key


def sign(secret: Secret, msg_id: str, timestamp: int, body: str | bytes) -> str:
    """The `v1,...` signature of one message: what the portal sends (useful for a receiver's own tests)."""
    raw = body.encode() if isinstance(body, str) else body
    content = f"{msg_id}.{timestamp}.".encode() + raw
    return "v1," + base64.b64encode(hmac.new(_key(secret), content, hashlib.sha256).digest()).decode()


def verify_webhook(
    headers: Mapping[str, Any],
    body: str | bytes,
    secret: Secret | Iterable[Secret],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> Any:
    """Check a callback and return its parsed JSON body; raise WebhookVerificationError if it does not verify.

    `body` must be the raw request body exactly as received (parse it only after it verifies). `secret` may
    be one secret or several (your own rotation: any that matches passes). A timestamp more than
    `tolerance` seconds in the past or the future is refused, so a captured callback cannot be replayed
    later; drop repeated `webhook-id`s yourself for replays within the window.
    """
    msg_id = _header(headers, "webhook-id")
    timestamp_text = _header(headers, "webhook-timestamp")
    signature_header = _header(headers, "webhook-signature")
    if not msg_id or not timestamp_text or not signature_header:
        raise WebhookVerificationError("Missing webhook-id, webhook-timestamp or webhook-signature header.")
    try:
        timestamp = int(timestamp_text.strip())
    except ValueError:
        raise WebhookVerificationError("Invalid webhook-timestamp header.") from None
    current = time.time() if now is None else now
    if timestamp < current - tolerance:
        raise WebhookVerificationError("Message timestamp too old.")
    if timestamp > current + tolerance:
        raise WebhookVerificationError("Message timestamp too new.")

    raw = body.encode() if isinstance(body, str) else bytes(body)
    secrets_ = [secret] if isinstance(secret, (str, bytes)) else list(secret)
    if not secrets_:
        raise WebhookVerificationError("No webhook secret given.")
    expected = [sign(s, msg_id, timestamp, raw)[3:].encode() for s in secrets_]
    matched = False
    for part in signature_header.split():
        version, _, value = part.partition(",")
        if version != "v1" or not value:
            continue  # other schemes (v1a: asymmetric) are not ours; skip, as the spec says
        for candidate in expected:
            # Every comparison is made (no early exit), each in constant time.
            matched |= hmac.compare_digest(value.encode(), candidate)
    if not matched:
        raise WebhookVerificationError("No matching signature found.")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise WebhookVerificationError("The body is not JSON.") from None


__all__ = ["DEFAULT_TOLERANCE", "sign", "verify_webhook"]
