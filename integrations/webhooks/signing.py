"""Standard Webhooks signing: `v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>`.

The secret is `whsec_` + base64 of 32 random bytes; the HMAC key is the decoded bytes, as the spec's
reference library (PyPI `standardwebhooks`) reads it. During a rotation both signatures are sent,
space-separated, so a receiver that knows either secret verifies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    mac = hmac.new(secret_bytes(secret), f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signature_header(secrets_: Iterable[str], msg_id: str, timestamp: int, body: str) -> str:
    return " ".join(signature(secret, msg_id, timestamp, body) for secret in secrets_ if secret)
