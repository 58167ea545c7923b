from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.storage import private_storage


class RequestStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class ApprovalLevel(models.TextChoices):
    PROVINCE = "province", _("Provincial company")
    GROUP = "group", _("Group")


class ExemptionRequest(models.Model):
    """A request to open cards without user real-name (U1, U3). U2 cards can never be exempted.

    `required_levels` is fixed when filed from the rule decision of the cards:
    "province", "group" or both. It is approved once every level approved.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("reference"))
    enterprise = models.ForeignKey(
        "enterprises.Enterprise", on_delete=models.PROTECT, related_name="exemptions", verbose_name=_("enterprise")
    )
    cards = models.ManyToManyField("cards.Card", related_name="exemptions", verbose_name=_("cards"))
    required_levels = models.JSONField(default=list, verbose_name=_("approvals needed"))
    rules = models.JSONField(default=list, verbose_name=_("rules that fired"))
    reason = models.TextField(_("reason"))
    status = models.CharField(_("status"), max_length=16, choices=RequestStatus.choices, default=RequestStatus.DRAFT)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("filed by")
    )
    submitted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("time filed"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("time created"))

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("exemption request")
        verbose_name_plural = _("exemption requests")
        indexes = [
            models.Index(fields=["status", "enterprise"], name="exemption_status_enterprise"),
            # "My requests": an enterprise's, newest first (core.keyset).
            models.Index(fields=["enterprise", "-created_at", "-id"], name="exemption_ent_created"),
            # The list of a province's or the whole nation's requests, newest first (the API's
            # NewestFirstPagination, the portal's EXEMPTION_KEYSET): walked until a page is full, not sorted.
            models.Index(fields=["-created_at", "-id"], name="exemption_created"),
            # The approvers' queue (selectors.QUEUE_ORDER): open requests, oldest first; partial, as
            # the open ones are few among all ever filed.
            models.Index(fields=["created_at", "id"], condition=Q(status="submitted"), name="exemption_queue_open"),
        ]

    def __str__(self) -> str:
        return f"{_('Exemption request')} {str(self.public_id)[:8]}"

    @property
    def is_open(self) -> bool:
        return self.status == RequestStatus.SUBMITTED


class ExemptionAttachment(models.Model):
    """The provincial (省内审批单) or group (集团审批单) approval form."""

    request = models.ForeignKey(
        ExemptionRequest, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("exemption request")
    )
    level = models.CharField(max_length=16, choices=ApprovalLevel.choices, verbose_name=_("approval level"))
    file = models.FileField(
        storage=private_storage, upload_to="exemptions/", max_length=200, verbose_name=_("stored file")
    )
    content_type = models.CharField(max_length=64, verbose_name=_("content type"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("uploaded by")
    )
    uploaded_at = models.DateTimeField(auto_now_add=True, verbose_name=_("time uploaded"))

    class Meta:
        ordering = ["level", "pk"]
        verbose_name = _("approval form")
        verbose_name_plural = _("approval forms")

    def __str__(self) -> str:
        return f"{self.get_level_display()} #{self.pk}"

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class Decision(models.Model):
    """One approver's decision at one level: who, when, and why."""

    exemption = models.ForeignKey(
        ExemptionRequest,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="decisions",
        verbose_name=_("exemption request"),
    )
    change_request = models.ForeignKey(
        "enterprises.ChangeRequest",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="decisions",
        verbose_name=_("change request"),
    )
    level = models.CharField(max_length=16, choices=ApprovalLevel.choices, verbose_name=_("approval level"))
    approved = models.BooleanField(verbose_name=_("approved"))
    comment = models.TextField(_("comment"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("decided by")
    )
    decided_at = models.DateTimeField(auto_now_add=True, verbose_name=_("time decided"))

    class Meta:
        ordering = ["decided_at"]
        verbose_name = _("decision")
        verbose_name_plural = _("decisions")
        constraints = [
            models.UniqueConstraint(fields=["exemption", "level"], name="decision_once_per_level"),
            # A change request is decided once (by its province).
            models.UniqueConstraint(
                fields=["change_request"],
                condition=Q(change_request__isnull=False),
                name="decision_once_per_change_request",
            ),
            # Every decision is about exactly one request.
            models.CheckConstraint(
                name="decision_has_one_subject",
                condition=(Q(exemption__isnull=False) & Q(change_request__isnull=True))
                | (Q(exemption__isnull=True) & Q(change_request__isnull=False)),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()}: {_('approved') if self.approved else _('rejected')}"


class Notification(models.Model):
    """One email in the outbox: written in the transaction of the decision it tells about, sent by a task.

    A message is never lost to a broker or mail outage: it stays unsent and the beat task
    (approvals.tasks.requeue_unsent_notifications) sends it again, up to
    NOTIFICATION_MAX_ATTEMPTS tries. The text carries no personal data (approvals.notifications).
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("recipient user")
    )
    address = models.EmailField(max_length=254, verbose_name=_("email address"))
    subject = models.CharField(max_length=255, verbose_name=_("subject line"))
    body = models.TextField(verbose_name=_("message body"))
    # What it is about, ids only ("exemption 12"), for the logs.
    ref = models.CharField(max_length=64, verbose_name=_("related reference"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("time created"))
    queued_at = models.DateTimeField(null=True, blank=True, verbose_name=_("time queued"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("time sent"))
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("number of attempts"))
    # The last failure's exception class, never its message (it may hold an address).
    last_error = models.CharField(max_length=100, blank=True, verbose_name=_("last error"))

    class Meta:
        verbose_name = _("email notification")
        verbose_name_plural = _("email notifications")
        ordering = ["pk"]
        indexes = [models.Index(fields=["sent_at", "created_at"], name="notification_unsent")]

    def __str__(self) -> str:
        return f"{self.ref} #{self.pk}"
