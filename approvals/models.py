from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from enterprises.models import private_storage


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

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    enterprise = models.ForeignKey("enterprises.Enterprise", on_delete=models.PROTECT, related_name="exemptions")
    cards = models.ManyToManyField("cards.Card", related_name="exemptions")
    required_levels = models.JSONField(default=list)
    rules = models.JSONField(default=list)
    reason = models.TextField(_("reason"))
    status = models.CharField(_("status"), max_length=16, choices=RequestStatus.choices, default=RequestStatus.DRAFT)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("exemption request")
        verbose_name_plural = _("exemption requests")


class ExemptionAttachment(models.Model):
    """The provincial (省内审批单) or group (集团审批单) approval form."""

    request = models.ForeignKey(ExemptionRequest, on_delete=models.CASCADE, related_name="attachments")
    level = models.CharField(max_length=16, choices=ApprovalLevel.choices)
    file = models.FileField(storage=private_storage, upload_to="exemptions/", max_length=200)
    content_type = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)


class Decision(models.Model):
    """One approver's decision at one level: who, when, and why."""

    exemption = models.ForeignKey(
        ExemptionRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="decisions"
    )
    change_request = models.ForeignKey(
        "enterprises.ChangeRequest", null=True, blank=True, on_delete=models.PROTECT, related_name="decisions"
    )
    level = models.CharField(max_length=16, choices=ApprovalLevel.choices)
    approved = models.BooleanField()
    comment = models.TextField(_("comment"), blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["decided_at"]
        constraints = [
            models.UniqueConstraint(fields=["exemption", "level"], name="decision_once_per_level"),
        ]
