"""Calls with `Authorization: Api-Key <key>` (issue 10 §1): the key's actor, and DRF's authentication.

A key acts for its enterprise alone, as its admin does, narrowed to its scopes' capabilities
(integrations.scopes). A test key (rnk_test_) acts for the enterprise's sandbox instead (enterprises.sandbox,
issue 10 §5): its enterprise scope is the sandbox's id, so it reaches no real record, and no real actor reaches
the sandbox's. It is no user: audit events name it by its public id (`audit_data`), never the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from accounts.permissions import Capability
from accounts.roles import Role
from enterprises.sandbox import sandbox_for
from integrations.key_models import PlatformKey
from integrations.keys import KEY_MAX_LENGTH, key_hash
from integrations.scopes import capabilities_for

KEYWORD = "Api-Key"
# last_used_at is written at most this often per key (a busy key would otherwise write on every call).
LAST_USED_RESOLUTION = timedelta(minutes=1)
MSG_INVALID = _("Invalid, expired or revoked API key.")


@dataclass(frozen=True)
class KeyActor:
    key: PlatformKey

    role: str = Role.ENTERPRISE_ADMIN.value
    province_id: None = None
    is_active: bool = True
    is_authenticated: bool = True
    is_anonymous: bool = False
    is_superuser: bool = False
    is_staff: bool = False

    @cached_property
    def enterprise_id(self) -> int:
        """The enterprise the key acts for: its own, or for a test key its sandbox (created on first use)."""
        if self.key.test:
            return sandbox_for(self.key.enterprise).pk
        return self.key.enterprise_id

    @property
    def capability_limit(self) -> frozenset[Capability]:
        return capabilities_for(self.key.scopes)

    @property
    def audit_data(self) -> dict[str, str]:
        data = {"platform_key": str(self.key.public_id)}
        if self.key.test:
            data["sandbox"] = "true"
        return data

    @property
    def pk(self) -> None:  # no user row: throttles and idempotency key on the key instead
        return None

    def __str__(self) -> str:
        return f"API key {self.key.prefix}"


def _record_use(key: PlatformKey) -> None:
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        PlatformKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now


def key_for(raw: str) -> PlatformKey | None:
    """The usable key with this string, or None (unknown, malformed, expired, revoked, past its grace)."""
    if not raw or len(raw) > KEY_MAX_LENGTH or not raw.startswith(("rnk_live_", "rnk_test_")):
        return None
    key = PlatformKey.objects.select_related("enterprise").filter(key_hash=key_hash(raw)).first()
    if key is None or not key.usable_at():
        return None
    return key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request) -> tuple[KeyActor, PlatformKey] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != KEYWORD.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(MSG_INVALID)
        try:
            raw = header[1].decode("ascii")
        except UnicodeError:
            raise exceptions.AuthenticationFailed(MSG_INVALID) from None
        key = key_for(raw)
        if key is None:
            raise exceptions.AuthenticationFailed(MSG_INVALID)
        _record_use(key)
        return KeyActor(key), key

    def authenticate_header(self, request) -> str:
        return KEYWORD


def is_key_call(request: Any) -> bool:
    return isinstance(getattr(request, "auth", None), PlatformKey)


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "integrations.auth.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A platform API key: `Authorization: Api-Key rnk_live_...` (or `rnk_test_...`).",
        }
