"""Platform API keys (issue 10 §1): the only writers of PlatformKey, and the key strings themselves.

A key is `rnk_live_` or `rnk_test_` followed by secrets.token_urlsafe(32). Only its keyed hash is stored (the
portal's blind index, accounts.pii, under a purpose of its own) with a short prefix to recognise it by; the
key exists only in the return value of key_create and key_rotate. Each service authorises its actor first
(PLATFORM_KEYS_MANAGE: the enterprise's admin, or an account manager of its province; a key never holds it,
since no scope names it) and writes an audit event, which never holds the key.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import NoticeKind
from accounts.notifications import notify_all, path_for, users_who_may
from accounts.permissions import Capability, require
from accounts.pii import blind_index
from accounts.services import audit_record
from core.errors import InvalidTransition, ValidationFailed
from enterprises.models import Enterprise
from enterprises.sandbox import sandbox_for
from integrations.key_models import PlatformKey
from integrations.scopes import KeyScope

LIVE_PREFIX = "rnk_live_"
TEST_PREFIX = "rnk_test_"
SECRET_BYTES = 32
# A prefix and token_urlsafe(32) give 52 characters; anything much longer is no key of ours.
KEY_MAX_LENGTH = 80
SHOWN_SECRET_CHARS = 8
MAX_EXPIRY_DAYS = 365
DEFAULT_GRACE_HOURS = 24
MAX_GRACE_HOURS = 24 * 30
NAME_MAX_LENGTH = 100
_PURPOSE = "platform_api_key"

MSG_NOT_ALLOWED = _("Your role may not manage the API keys of this enterprise.")
MSG_NAME = _("Give the key a name (at most 100 characters), e.g. the system that uses it.")
MSG_SCOPES = _("Choose at least one of the scopes: %(scopes)s.")
MSG_EXPIRY = _("A key is valid for 1 to %(max)s days.")
MSG_GRACE = _("The grace period is 0 to %(max)s hours.")
MSG_NOT_ACTIVE = _("This key is revoked, expired or already rotated.")
MSG_ALREADY_REVOKED = _("This key is already revoked.")
MSG_SANDBOX = _("Keys are issued to the real enterprise: a test key (rnk_test_) acts on its sandbox.")


def key_hash(key: str) -> str:
    return blind_index(key, purpose=_PURPOSE)


def new_key(*, test: bool) -> str:
    return (TEST_PREFIX if test else LIVE_PREFIX) + secrets.token_urlsafe(SECRET_BYTES)


def key_prefix(key: str) -> str:
    """What is shown of a key: its kind and the first characters of its secret (`rnk_live_ab12cd34`)."""
    return key[: len(LIVE_PREFIX) + SHOWN_SECRET_CHARS]


def _require(actor: Any, enterprise: Enterprise) -> None:
    require(actor, Capability.PLATFORM_KEYS_MANAGE, enterprise, message=MSG_NOT_ALLOWED)


def clean_name(name: object) -> str:
    value = " ".join(str(name or "").split())
    if not value or len(value) > NAME_MAX_LENGTH:
        raise ValidationFailed(MSG_NAME, code="invalid_name", field="name")
    return value


def clean_scopes(scopes: object) -> list[str]:
    allowed = [scope.value for scope in KeyScope]
    message = MSG_SCOPES % {"scopes": ", ".join(allowed)}
    if not isinstance(scopes, list | tuple) or not scopes:
        raise ValidationFailed(message, code="invalid_scopes", field="scopes")
    if any(not isinstance(scope, str) or scope not in allowed for scope in scopes):
        raise ValidationFailed(message, code="invalid_scopes", field="scopes")
    return [scope for scope in allowed if scope in scopes]


def _clean_int(value: Any, *, default: int, low: int, high: int, message: str, code: str, field: str) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationFailed(message, code=code, field=field)
    try:
        number = int(value)
    except ValueError:
        raise ValidationFailed(message, code=code, field=field) from None
    if not low <= number <= high:
        raise ValidationFailed(message, code=code, field=field)
    return number


def clean_expires_in_days(days: Any) -> int:
    return _clean_int(
        days,
        default=MAX_EXPIRY_DAYS,
        low=1,
        high=MAX_EXPIRY_DAYS,
        message=str(MSG_EXPIRY % {"max": MAX_EXPIRY_DAYS}),
        code="invalid_expires_in_days",
        field="expires_in_days",
    )


def clean_grace_hours(hours: Any) -> int:
    return _clean_int(
        hours,
        default=DEFAULT_GRACE_HOURS,
        low=0,
        high=MAX_GRACE_HOURS,
        message=str(MSG_GRACE % {"max": MAX_GRACE_HOURS}),
        code="invalid_grace_hours",
        field="grace_hours",
    )


def _issue(
    *, enterprise: Enterprise, name: str, scopes: Iterable[str], test: bool, expires_at
) -> tuple[PlatformKey, str]:
    key = new_key(test=test)
    record = PlatformKey.objects.create(
        enterprise=enterprise,
        name=name,
        prefix=key_prefix(key),
        key_hash=key_hash(key),
        scopes=list(scopes),
        test=test,
        expires_at=expires_at,
    )
    return record, key


def key_create(
    *,
    actor: Any,
    enterprise: Enterprise,
    name: object,
    scopes: object,
    expires_in_days: Any = MAX_EXPIRY_DAYS,
    test: bool = False,
) -> tuple[PlatformKey, str]:
    """A new key for the enterprise: (the record, the key, shown this once)."""
    _require(actor, enterprise)
    clean = clean_name(name)
    chosen = clean_scopes(scopes)
    days = clean_expires_in_days(expires_in_days)
    if enterprise.sandbox_of_id is not None:
        # A sandbox's keys are its real enterprise's test keys: a key is always issued to a real enterprise.
        raise ValidationFailed(MSG_SANDBOX, code="invalid_enterprise", field="enterprise")
    with transaction.atomic():
        if test:
            # The sandbox and its cards are there before the test key's first call.
            sandbox_for(enterprise)
        record, key = _issue(
            enterprise=enterprise,
            name=clean,
            scopes=chosen,
            test=bool(test),
            expires_at=timezone.now() + timedelta(days=days),
        )
        audit_record(
            actor=actor,
            action="platform_key.created",
            obj=record,
            data={
                "platform_key_id": str(record.public_id),
                "prefix": record.prefix,
                "scopes": chosen,
                "test": record.test,
            },
        )
    return record, key


def key_rotate(*, actor: Any, key: PlatformKey, grace_hours: Any = DEFAULT_GRACE_HOURS) -> tuple[PlatformKey, str]:
    """A successor with the same name, scopes, kind and expiry; the old key works for `grace_hours` more."""
    _require(actor, key.enterprise)
    hours = clean_grace_hours(grace_hours)
    with transaction.atomic():
        old = PlatformKey.objects.select_for_update().get(pk=key.pk)
        now = timezone.now()
        if not old.usable_at(now) or old.replaced_by_id is not None:
            raise InvalidTransition(MSG_NOT_ACTIVE, code="key_not_active")
        record, secret = _issue(
            enterprise=old.enterprise, name=old.name, scopes=old.scopes, test=old.test, expires_at=old.expires_at
        )
        old.replaced_by = record
        old.grace_until = now + timedelta(hours=hours)
        old.save(update_fields=["replaced_by", "grace_until"])
        audit_record(
            actor=actor,
            action="platform_key.rotated",
            obj=old,
            data={
                "platform_key_id": str(old.public_id),
                "replaced_by": str(record.public_id),
                "prefix": record.prefix,
                "grace_hours": hours,
            },
        )
    return record, secret


def key_revoke(*, actor: Any, key: PlatformKey) -> PlatformKey:
    _require(actor, key.enterprise)
    with transaction.atomic():
        record = PlatformKey.objects.select_for_update().get(pk=key.pk)
        if record.revoked_at is not None:
            raise InvalidTransition(MSG_ALREADY_REVOKED, code="already_revoked")
        record.revoked_at = timezone.now()
        record.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action="platform_key.revoked",
            obj=record,
            data={"platform_key_id": str(record.public_id), "prefix": record.prefix},
        )
    return record


__all__ = [
    "KEY_MAX_LENGTH",
    "key_create",
    "key_hash",
    "key_prefix",
    "key_revoke",
    "key_rotate",
    "new_key",
]


def keys_warn_expiring(*, within: timedelta, now: datetime | None = None) -> int:
    """Tell who manages an enterprise's keys that a key expires within `within` (issue 11 §3).

    Told are the enterprise's own key managers and its account manager, once per key and expiry
    (accounts.notifications.notify's once_key): the daily beat task may run again, and a key whose
    expiry moves is told of again. Revoked and rotated-out keys are not worth a word.
    """
    now = now or timezone.now()
    due = PlatformKey.objects.filter(
        revoked_at__isnull=True, replaced_by__isnull=True, expires_at__gt=now, expires_at__lte=now + within
    ).select_related("enterprise")
    written = 0
    for key in due.order_by("pk").iterator():
        enterprise = key.enterprise
        recipients = [
            user
            for user in users_who_may(Capability.PLATFORM_KEYS_MANAGE, key)
            if user.enterprise_id == enterprise.pk or user.pk == enterprise.account_manager_id
        ]
        with transaction.atomic():
            written += notify_all(
                recipients,
                NoticeKind.EXPIRING,
                key,
                title=str(
                    _("The API key %(prefix)s… of %(enterprise)s expires on %(date)s")
                    % {
                        "prefix": key.prefix,
                        "enterprise": enterprise.name,
                        "date": timezone.localtime(key.expires_at).strftime("%Y-%m-%d"),
                    }
                ),
                body=str(_("Rotate it before then, or the platform's calls will be refused.")),
                link=path_for("platform_keys:list", enterprise.public_id),
                once_key=f"expiring:key:{key.pk}:{key.expires_at:%Y%m%d%H%M}",
            )
    return written
