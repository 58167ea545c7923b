"""The records of API keys (issue 10 §1) and of idempotent creates (§2).

A key is stored as its display prefix and a keyed hash of the whole key (integrations.keys); the key itself
exists only in the answer that issued it.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PlatformKey(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("reference"))
    enterprise = models.ForeignKey(
        "enterprises.Enterprise", verbose_name=_("enterprise"), on_delete=models.PROTECT, related_name="platform_keys"
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=32, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False, verbose_name=_("key digest"))
    scopes = models.JSONField(_("scopes"), default=list)
    test = models.BooleanField(_("test key"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"))
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    # Rotation: the old key names its successor and works until grace_until.
    replaced_by = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replaces",
        editable=False,
        verbose_name=_("replaced by"),
    )
    grace_until = models.DateTimeField(_("works until"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("platform API key")
        verbose_name_plural = _("platform API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    def usable_at(self, now=None) -> bool:
        now = now or timezone.now()
        if self.revoked_at is not None or self.expires_at <= now:
            return False
        return self.grace_until is None or self.grace_until > now

    @property
    def status(self) -> str:
        now = timezone.now()
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        if self.grace_until is not None:
            return "rotating" if self.grace_until > now else "rotated"
        return "active"


class IdempotencyRecord(models.Model):
    """One creating request under an Idempotency-Key: its fingerprint, then its stored answer (24 h).

    integrations.idempotency is the only writer. Nothing here is readable without the idempotency key the
    sender holds: the key is a keyed hash, the answer's body is encrypted with a key derived from it.
    `status_code` is null while the first request runs (the claim).
    """

    # Who sent it: "key:<API key public id>" or "user:<pk>".
    owner = models.CharField(max_length=64, verbose_name=_("key owner"))
    key_hash = models.CharField(max_length=64, verbose_name=_("idempotency key (keyed hash)"))
    fingerprint = models.CharField(max_length=64, verbose_name=_("request fingerprint"))
    status_code = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("HTTP status"))
    body = models.BinaryField(null=True, blank=True, verbose_name=_("message body"))
    headers = models.JSONField(default=dict, verbose_name=_("response headers"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("time created"))
    expires_at = models.DateTimeField(verbose_name=_("expires"))

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [models.UniqueConstraint(fields=["owner", "key_hash"], name="idempotency_owner_key_unique")]
        indexes = [models.Index(fields=["expires_at"], name="idempotency_expires_idx")]

    def __str__(self) -> str:
        return f"{self.owner} {self.key_hash[:8]}"
