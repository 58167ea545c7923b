from __future__ import annotations

import json
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from accounts.pii import EncryptedTextField, mask_identifier
from core.identity import CredentialType, PersonalIdType, mask_name
from core.storage import private_storage as core_private_storage

# Old migrations name the storage here; the fields use core.storage.private_storage.
private_storage = core_private_storage


class UnitKind(models.Model):
    """What kind of unit an enterprise customer is (企业, 事业单位, 党政机关, 军队, ...): reference data ops keep.

    `cannot_hold_credential` marks the kinds that may register with a unit introduction letter or an
    official letter with seal instead of a credential (E1: 党政机关、军队、部队等无法提供单位有效证件的).
    Kinds are retired (`is_active`), never deleted: records keep the kind they were registered with.
    """

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=64)
    name_en = models.CharField(_("English name"), max_length=64, blank=True)
    cannot_hold_credential = models.BooleanField(
        _("cannot hold a unit credential"),
        default=False,
        help_text=_("Units of this kind may register with an introduction letter or official letter with seal."),
    )
    is_active = models.BooleanField(_("offered"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("unit kind")
        verbose_name_plural = _("unit kinds")

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """The name in the active language (the Chinese name is the one every kind has)."""
        if self.name_en and not (get_language() or "zh-hans").lower().startswith("zh"):
            return self.name_en
        return self.name


class EnterpriseStatus(models.TextChoices):
    ACTIVE = "active", _("Registered")
    CHANGE_PENDING = "change_pending", _("Change pending approval")


class Enterprise(models.Model):
    """The enterprise customer's real-name record (E1)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("reference"))
    name = models.CharField(_("unit name"), max_length=200)
    unit_kind = models.ForeignKey(
        UnitKind, verbose_name=_("unit kind"), on_delete=models.PROTECT, related_name="enterprises"
    )
    # Blind index of the normalised name (accounts.pii.unit_name_index): a letter unit has no
    # number, so this is what finds it again and keeps it from registering twice in a province.
    name_index = models.CharField(
        max_length=64, editable=False, blank=True, default="", verbose_name=_("name blind index")
    )
    credential_type = models.CharField(_("credential type"), max_length=32, choices=CredentialType.choices)
    credential_number = EncryptedTextField(_("credential number"), blank=True)
    # Null for the letter-with-seal path, which carries no number.
    credential_number_index = models.CharField(
        max_length=64,
        null=True,
        blank=True,
        unique=True,
        editable=False,
        verbose_name=_("credential number blind index"),
    )
    credential_address = models.CharField(_("credential address"), max_length=255)
    province = models.ForeignKey("accounts.Province", verbose_name=_("province"), on_delete=models.PROTECT)
    account_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("account manager"),
        on_delete=models.PROTECT,
        related_name="managed_enterprises",
    )
    status = models.CharField(
        _("status"), max_length=32, choices=EnterpriseStatus.choices, default=EnterpriseStatus.ACTIVE
    )
    notes = models.TextField(_("notes"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # The sandbox of a real enterprise (issue 10 §5): where its test keys (rnk_test_) act. Never a real record:
    # the capability table's scopes leave it out of every list and figure (accounts.permissions.scope_filter).
    sandbox_of = models.OneToOneField(
        "self",
        verbose_name=_("sandbox of"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sandbox",
        editable=False,
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("enterprise")
        verbose_name_plural = _("enterprises")
        indexes = [
            # The list's keyset order within a province (core.keyset): ends in the key, so no sort for ties.
            models.Index(fields=["province", "-created_at", "-id"], name="enterprise_province_created"),
            models.Index(fields=["name"]),
            # The picker's prefix search (enterprises.autocomplete, issue 12 §1.2): LIKE 'x%' uses a plain index
            # only under the C collation; the pattern operator class serves it under any (PostgreSQL only).
            models.Index(fields=["name"], name="enterprise_name_prefix", opclasses=["varchar_pattern_ops"]),
        ]
        constraints = [
            # E1: a letter unit is one record per province, whatever spacing or punctuation it is typed with.
            models.UniqueConstraint(
                fields=["province", "name_index"],
                condition=Q(credential_type=CredentialType.OFFICIAL_LETTER) & ~Q(name_index=""),
                name="enterprise_letter_unit_once_per_province",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def credential_number_masked(self) -> str:
        return mask_identifier(self.credential_number or "")

    @property
    def is_sandbox(self) -> bool:
        return self.sandbox_of_id is not None

    @property
    def requires_number(self) -> bool:
        return self.credential_type != CredentialType.OFFICIAL_LETTER


class ResponsiblePerson(models.Model):
    """The enterprise's responsible person (P1, P2): usually the legal representative."""

    enterprise = models.OneToOneField(
        Enterprise, on_delete=models.CASCADE, related_name="responsible_person", verbose_name=_("enterprise")
    )
    name = models.CharField(_("name"), max_length=100)
    id_type = models.CharField(_("ID type"), max_length=32, choices=PersonalIdType.choices)
    id_number = EncryptedTextField(_("ID number"))
    id_number_index = models.CharField(
        max_length=64, db_index=True, editable=False, verbose_name=_("ID number blind index")
    )
    id_address = models.CharField(_("ID address"), max_length=255)
    is_legal_representative = models.BooleanField(_("is the legal representative"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("responsible person")
        verbose_name_plural = _("responsible persons")

    def __str__(self) -> str:
        # Masked: the admin's titles, breadcrumbs and history pages, and any log, show it so.
        return mask_name(self.name)

    @property
    def id_number_masked(self) -> str:
        return mask_identifier(self.id_number or "")


class DocumentKind(models.TextChoices):
    CREDENTIAL = "credential", _("Photo of the original credential")
    OFFICIAL_LETTER = "official_letter", _("Unit introduction letter / official letter with seal")
    RESPONSIBLE_ID = "responsible_id", _("Photo of the responsible person's ID")
    AUTHORISATION_LETTER = "authorisation_letter", _("Responsible-person authorisation letter")


class DocumentPurpose(models.TextChoices):
    REGISTRATION = "registration", _("First registration")
    LATER_BUSINESS = "later_business", _("Later business")
    CHANGE_REQUEST = "change_request", _("Change request")


def document_upload_to(document: Document, filename: str) -> str:
    # No personal data in paths: only opaque ids and the sanitised extension.
    return f"enterprises/{document.enterprise.public_id}/{document.public_id}{document.extension}"


class Document(models.Model):
    """One uploaded version of a document. Uploads are never overwritten (E2, P3)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("reference"))
    enterprise = models.ForeignKey(
        Enterprise, on_delete=models.PROTECT, related_name="documents", verbose_name=_("enterprise")
    )
    kind = models.CharField(_("kind"), max_length=32, choices=DocumentKind.choices)
    version = models.PositiveIntegerField(_("version"))
    purpose = models.CharField(_("uploaded for"), max_length=32, choices=DocumentPurpose.choices)
    business_reference = models.CharField(_("business reference"), max_length=64, blank=True)
    change_request = models.ForeignKey(
        "ChangeRequest",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="documents",
        verbose_name=_("change request"),
    )
    file = models.FileField(
        storage=core_private_storage, upload_to=document_upload_to, max_length=200, verbose_name=_("stored file")
    )
    extension = models.CharField(max_length=8, editable=False, verbose_name=_("file extension"))
    content_type = models.CharField(max_length=64, verbose_name=_("content type"))
    size = models.PositiveIntegerField(verbose_name=_("size (bytes)"))
    sha256 = models.CharField(max_length=64, verbose_name=_("SHA-256 digest"))
    width = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("width (px)"))
    height = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("height (px)"))
    # Null when a platform API key uploaded it (an order's fresh photos; its audit events name the key).
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        ordering = ["kind", "-version"]
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "kind", "version"], name="document_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} v{self.version}"

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class ChangeTarget(models.TextChoices):
    ENTERPRISE = "enterprise", _("Enterprise real-name data")
    RESPONSIBLE_PERSON = "responsible_person", _("Responsible person real-name data")


class ChangeRequestStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted, pending approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class ChangeRequest(models.Model):
    """A change to real-name data (E3, P4). The record changes only once it is approved."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("reference"))
    enterprise = models.ForeignKey(
        Enterprise, on_delete=models.PROTECT, related_name="change_requests", verbose_name=_("enterprise")
    )
    target = models.CharField(_("what changes"), max_length=32, choices=ChangeTarget.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=ChangeRequestStatus.choices, default=ChangeRequestStatus.DRAFT
    )
    # The proposed values hold ID numbers, so the whole JSON is encrypted.
    proposed_values_encrypted = EncryptedTextField(verbose_name=_("proposed values (encrypted)"))
    reason = models.TextField(_("reason for the change"), blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("filed by")
    )
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_comment = models.TextField(_("decision comment"), blank=True)
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("time created"))

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("change request")
        verbose_name_plural = _("change requests")
        constraints = [
            # One open change per record and target at a time keeps decisions unambiguous.
            models.UniqueConstraint(
                fields=["enterprise", "target"],
                condition=Q(status__in=["draft", "submitted"]),
                name="change_request_one_open_per_target",
            )
        ]
        indexes = [
            # The provincial approvers' queue (approvals.selectors.QUEUE_ORDER): open requests, oldest
            # first; partial, as the open ones are few among all ever filed.
            models.Index(
                fields=["created_at", "id"], condition=Q(status="submitted"), name="change_request_queue_open"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_target_display()} ({self.get_status_display()})"

    @property
    def proposed_values(self) -> dict:
        return json.loads(self.proposed_values_encrypted or "{}")

    def previous_values(self) -> dict:
        """What the change replaces: the replaced version once applied, else the record as it stands."""
        if self.applied_at is not None:
            version = RecordVersion.objects.filter(change_request=self).first()
            if version is not None:
                return version.previous_values
        return record_values(self.enterprise, self.target)


def record_values(enterprise: Enterprise, target: str) -> dict:
    """The record's current real-name values for a change target, in the shape a request proposes."""
    if target == ChangeTarget.ENTERPRISE:
        return {
            "name": enterprise.name,
            "unit_kind": enterprise.unit_kind.code,
            "credential_type": enterprise.credential_type,
            "credential_number": enterprise.credential_number,
            "credential_address": enterprise.credential_address,
        }
    person = ResponsiblePerson.objects.filter(enterprise=enterprise).first()
    if person is None:
        return {}
    return {
        "name": person.name,
        "id_type": person.id_type,
        "id_number": person.id_number,
        "id_address": person.id_address,
        "is_legal_representative": person.is_legal_representative,
    }


class RecordVersion(models.Model):
    """The values a change replaced (E3, P4 history). Encrypted like the record itself."""

    enterprise = models.ForeignKey(
        Enterprise, on_delete=models.PROTECT, related_name="versions", verbose_name=_("enterprise")
    )
    target = models.CharField(max_length=32, choices=ChangeTarget.choices, verbose_name=_("what changes"))
    previous_values_encrypted = EncryptedTextField(verbose_name=_("previous values (encrypted)"))
    change_request = models.OneToOneField(
        ChangeRequest, on_delete=models.PROTECT, related_name="replaced_version", verbose_name=_("change request")
    )
    replaced_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("replaced by")
    )
    replaced_at = models.DateTimeField(auto_now_add=True, verbose_name=_("time replaced"))

    class Meta:
        ordering = ["-replaced_at"]
        verbose_name = _("replaced record version")
        verbose_name_plural = _("replaced record versions")

    def __str__(self) -> str:
        return (
            f"{self.get_target_display()} ({self.replaced_at:%Y-%m-%d})"
            if self.replaced_at
            else self.get_target_display()
        )

    @property
    def previous_values(self) -> dict:
        return json.loads(self.previous_values_encrypted or "{}")
