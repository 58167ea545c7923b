from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.roles import Role

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class Province(models.Model):
    """A mainland provincial-level division; `code` is the GB/T 2260 two-digit prefix."""

    code = models.CharField(_("code"), max_length=2, unique=True)
    name = models.CharField(_("name"), max_length=20)
    name_en = models.CharField(_("English name"), max_length=40)

    class Meta:
        ordering = ["code"]
        verbose_name = _("province")
        verbose_name_plural = _("provinces")

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=32, choices=Role.choices, default=Role.OPS)
    full_name = models.CharField(_("full name"), max_length=100, blank=True)
    province = models.ForeignKey(
        Province, verbose_name=_("province"), null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    enterprise = models.ForeignKey(
        "enterprises.Enterprise",
        verbose_name=_("enterprise"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="admins",
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        permissions = [("view_full_pii", _("Can view personal data in full"))]
        constraints = [
            models.CheckConstraint(
                name="user_province_role_has_province",
                condition=~Q(role__in=[Role.ACCOUNT_MANAGER, Role.PROVINCIAL_APPROVER]) | Q(province__isnull=False),
            ),
            models.CheckConstraint(
                name="user_enterprise_admin_has_enterprise",
                condition=~Q(role=Role.ENTERPRISE_ADMIN) | Q(enterprise__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.username

    @property
    def role_label(self) -> StrOrPromise:
        return Role(self.role).label


class PiiAccessLog(models.Model):
    """One full (unmasked) view of a personal-data field."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("acting user")
    )
    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, verbose_name=_("content type"))
    object_id = models.CharField(_("object id"), max_length=64)
    field = models.CharField(_("field"), max_length=64)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = _("personal data access")
        verbose_name_plural = _("personal data accesses")
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.field} #{self.object_id}"


class AuditEvent(models.Model):
    """Who did what, when, to which record. `data` never holds personal data in the clear."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("acting user"),
    )
    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    action = models.CharField(_("action"), max_length=64)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, verbose_name=_("content type"))
    object_id = models.CharField(_("object id"), max_length=64)
    data = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.action} #{self.object_id}"


class RoleGrantStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class RoleGrant(models.Model):
    """A request to give a user a role that sees personal data in full or decides (issue 7 §2.1).

    Ops file it; a superuser other than the one who filed it approves or rejects it (accounts.users).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.PROTECT, related_name="role_grants"
    )
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    province = models.ForeignKey(
        Province, verbose_name=_("province"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    enterprise = models.ForeignKey(
        "enterprises.Enterprise",
        verbose_name=_("enterprise"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reason = models.TextField(_("reason"))
    status = models.CharField(
        _("status"), max_length=16, choices=RoleGrantStatus.choices, default=RoleGrantStatus.PENDING, db_index=True
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_comment = models.TextField(_("decision comment"), blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("role grant")
        verbose_name_plural = _("role grants")
        constraints = [
            # One open grant per user: a second would be decided against a stale picture of the first.
            models.UniqueConstraint(
                fields=["user"], condition=Q(status="pending"), name="role_grant_one_pending_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} → {Role(self.role).label}"


class NoticeKind(models.TextChoices):
    DECISION = "decision", _("Decision on your request")
    REVIEW_WAITING = "review_waiting", _("Review waiting")
    IMPORT_FINISHED = "import_finished", _("Import finished")
    EXPIRING = "expiring", _("About to expire")


class Notice(models.Model):
    """One in-app notification in a user's inbox (issue 11 §3), written in the transaction of the
    change it tells of (accounts.notifications.notify). Its text carries no personal data: masked
    names only, never ID numbers."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notices", verbose_name=_("recipient")
    )
    kind = models.CharField(_("kind"), max_length=32, choices=NoticeKind.choices)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"), blank=True)
    link = models.CharField(_("link"), max_length=500, blank=True)
    content_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("content type")
    )
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    # Set for a notice that is sent once per object (an expiry warning): the beat task may run again.
    once_key = models.CharField(_("sent-once key"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("time created"), auto_now_add=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("emailed at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            models.Index(fields=["recipient", "read_at"], name="notice_unread"),
            # The inbox's keyset order (core.keyset).
            models.Index(fields=["recipient", "-created_at", "-id"], name="notice_recipient_created"),
            # The operations admin's list of everyone's notices, by keyset (core.pagination).
            models.Index(fields=["-created_at", "-id"], name="notice_created"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "once_key"], condition=~Q(once_key=""), name="notice_once_per_key"
            )
        ]

    def __str__(self) -> str:
        return self.title
