"""Exports of a list built in the background (issue 11 §3): one row per requested file."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.pii import EncryptedTextField
from core.storage import private_storage


class ExportStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    RUNNING = "running", _("Being built")
    DONE = "done", _("Ready")
    FAILED = "failed", _("Failed")


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "XLSX"


class ListExport(models.Model):
    """A large list export, built by portal.tasks.build_list_export into private storage. Only its
    requester may download it, until `expires_at`."""

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), on_delete=models.CASCADE, related_name="+"
    )
    list_name = models.CharField(_("list"), max_length=32)
    file_format = models.CharField(_("format"), max_length=8, choices=ExportFormat.choices)
    # The list's filters and search as JSON. A search may be a name or an ID number: encrypted, and never
    # put in the task's message (the task gets the row's id only).
    parameters = EncryptedTextField(_("filters"), default="{}")
    status = models.CharField(_("status"), max_length=16, choices=ExportStatus.choices, default=ExportStatus.PENDING)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    done_rows = models.PositiveIntegerField(_("rows written"), default=0)
    file = models.FileField(_("file"), storage=private_storage, upload_to="exports/", max_length=200, blank=True)
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    queued_at = models.DateTimeField(_("queued at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("list export")
        verbose_name_plural = _("list exports")

    def __str__(self) -> str:
        return f"{self.list_name}.{self.file_format} ({self.get_status_display()})"
