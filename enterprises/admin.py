"""Django admin for ops: enterprise records, read-only and masked; the unit kinds, kept by ops.

Real-name data is never written through admin (that is services' job: E1-E3,
P1-P4), so every model here is view-only, for superusers too. The encrypted
fields and blind indexes are left out of every list and form by listing the
shown fields explicitly (an allow-list); a masked read-only value stands in
for each number. Search covers plain columns only: encrypted columns cannot
be searched. Documents show their metadata, never a link to the stored file.

Sandboxes (issue 10 §5): every changelist of an enterprise's records shows real records unless its
"Records" filter asks for the sandboxes' (SandboxFilter); the enterprise list's action resets an enterprise's
sandbox (enterprises.sandbox.sandbox_reset).

The unit kinds are reference data that ops add and edit (E1: which kinds may take the
letter-with-seal path); saving goes through enterprises.services.unit_kind_save.
"""

from __future__ import annotations

import copy

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from accounts.admin import ReadOnlyAdminMixin, ReadOnlyInlineMixin
from core.errors import DomainError
from core.identity import mask_address, mask_name, mask_numbers_in_text
from core.pagination import CappedListAdminMixin
from enterprises.models import (
    ChangeRequest,
    Document,
    Enterprise,
    RecordVersion,
    ResponsiblePerson,
    UnitKind,
)
from enterprises.sandbox import sandbox_of, sandbox_reset
from enterprises.serializers import masked_proposed_values
from enterprises.services import unit_kind_check, unit_kind_save


def _masked_values_html(target: str, values: dict):
    rows = masked_proposed_values(target, values).items()
    return format_html_join("", "<div><strong>{}</strong>: {}</div>", ((name, value) for name, value in rows))


class ResponsiblePersonInline(ReadOnlyInlineMixin, admin.StackedInline):
    model = ResponsiblePerson
    fields = (
        "masked_name",
        "id_type",
        "masked_id_number",
        "masked_id_address",
        "is_legal_representative",
        "updated_at",
    )

    @admin.display(description=_("ID number"))
    def masked_id_number(self, person: ResponsiblePerson) -> str:
        return person.id_number_masked

    @admin.display(description=_("name"))
    def masked_name(self, person: ResponsiblePerson) -> str:
        return mask_name(person.name)

    @admin.display(description=_("ID address"))
    def masked_id_address(self, person: ResponsiblePerson) -> str:
        return mask_address(person.id_address)


class DocumentInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = Document
    fk_name = "enterprise"
    fields = ("kind", "version", "purpose", "business_reference", "content_type", "size", "uploaded_at", "uploaded_by")
    ordering = ("kind", "-version")
    show_change_link = True


class ChangeRequestDocumentInline(DocumentInline):
    fk_name = "change_request"


class UnitKindForm(forms.ModelForm):
    class Meta:
        model = UnitKind
        fields = ("code", "name", "name_en", "cannot_hold_credential", "is_active", "sort_order")

    def clean(self):
        cleaned = super().clean()
        # The instance takes the form's values only after clean(): check a copy that has them.
        candidate = copy.copy(self.instance)
        for name, value in cleaned.items():
            setattr(candidate, name, value)
        try:
            unit_kind_check(candidate)
        except DomainError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        return cleaned


@admin.register(UnitKind)
class UnitKindAdmin(admin.ModelAdmin):
    form = UnitKindForm
    list_display = ("code", "name", "name_en", "cannot_hold_credential", "is_active", "sort_order")
    list_filter = ("cannot_hold_credential", "is_active")
    search_fields = ("code", "name", "name_en")
    fields = ("code", "name", "name_en", "cannot_hold_credential", "is_active", "sort_order")

    def get_readonly_fields(self, request, obj=None):
        # Records keep their kind: its code (API clients send it) and, for letter units, its mark stay.
        if obj is None or not obj.enterprises.exists():
            return ()
        if obj.cannot_hold_credential and obj.enterprises.filter(credential_type="official_letter").exists():
            return ("code", "cannot_hold_credential")
        return ("code",)

    def has_delete_permission(self, request, obj=None):
        return False  # retired with is_active, never deleted

    def save_model(self, request, obj, form, change):
        unit_kind_save(actor=request.user, unit_kind=obj)


class SandboxFilter(admin.SimpleListFilter):
    """Real records unless asked: a sandbox's records (issue 10 §5) are never in a real list or its count.

    `path` leads from the model to its enterprise; subclasses set it ("card__enterprise__" for a card's rows).
    """

    title = _("records")
    parameter_name = "records"
    path = "enterprise__"

    def lookups(self, request, model_admin):
        return (("real", _("Real records")), ("sandbox", _("Sandbox records (test keys)")))

    def choices(self, changelist):
        # No "All": real and sandbox records are never listed, nor counted, together.
        for value, label in self.lookup_choices:
            yield {
                "selected": (self.value() or "real") == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        # A join on the enterprise, not NOT IN (its sandboxes): the planner halves its estimate of a NOT IN,
        # and the capped paginator trusts that estimate to skip counting a long list (core.pagination).
        return queryset.filter(**{f"{self.path}sandbox_of__isnull": self.value() != "sandbox"})


class EnterpriseSandboxFilter(SandboxFilter):
    path = ""


class CardSandboxFilter(SandboxFilter):
    path = "card__enterprise__"


@admin.register(Enterprise)
class EnterpriseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "unit_kind",
        "credential_type",
        "masked_credential_number",
        "province",
        "account_manager",
        "status",
        "created_at",
    )
    list_filter = (EnterpriseSandboxFilter, "status", "unit_kind", "credential_type", "province")
    actions = ["reset_sandbox"]
    search_fields = ("name",)
    list_select_related = ("province", "account_manager", "unit_kind")
    fields = (
        "public_id",
        "name",
        "unit_kind",
        "credential_type",
        "masked_credential_number",
        "credential_address",
        "province",
        "account_manager",
        "status",
        "notes",
        "created_by",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    inlines = [ResponsiblePersonInline, DocumentInline]

    @admin.display(description=_("credential number"))
    def masked_credential_number(self, enterprise: Enterprise) -> str:
        return enterprise.credential_number_masked

    @admin.action(description=_("Reset the sandbox data of the selected enterprises"))
    def reset_sandbox(self, request, queryset):
        """Each selected real enterprise's sandbox back to its seeded cards; the services authorise each."""
        done = 0
        for enterprise in queryset:
            if enterprise.sandbox_of_id is not None or sandbox_of(enterprise) is None:
                self.message_user(
                    request,
                    _("%(name)s has no sandbox (it has had no test key): nothing to reset.") % {"name": enterprise},
                    messages.WARNING,
                )
                continue
            try:
                sandbox_reset(actor=request.user, enterprise=enterprise)
            except DomainError as exc:
                self.message_user(request, f"{enterprise}: {exc.message}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, _("%(count)s sandbox(es) reset.") % {"count": done}, messages.SUCCESS)


@admin.register(Document)
class DocumentAdmin(CappedListAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("enterprise", "kind", "version", "purpose", "content_type", "size", "uploaded_by", "uploaded_at")
    list_filter = (SandboxFilter, "kind", "purpose", "content_type")
    search_fields = ("enterprise__name", "business_reference")
    list_select_related = ("enterprise", "uploaded_by")
    # No `file`: the stored file is reached only through the permission-checking download views.
    fields = (
        "public_id",
        "enterprise",
        "kind",
        "version",
        "purpose",
        "business_reference",
        "change_request",
        "content_type",
        "extension",
        "size",
        "width",
        "height",
        "sha256",
        "uploaded_by",
        "uploaded_at",
    )
    readonly_fields = fields


@admin.register(ChangeRequest)
class ChangeRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("enterprise", "target", "status", "submitted_by", "submitted_at", "decided_by", "decided_at")
    list_filter = (SandboxFilter, "status", "target")
    search_fields = ("enterprise__name",)
    list_select_related = ("enterprise", "submitted_by", "decided_by")
    fields = (
        "public_id",
        "enterprise",
        "target",
        "status",
        "proposed_values_masked",
        "reason_masked",
        "submitted_by",
        "submitted_at",
        "decided_by",
        "decided_at",
        "decision_comment_masked",
        "applied_at",
        "created_at",
    )
    readonly_fields = fields
    inlines = [ChangeRequestDocumentInline]

    @admin.display(description=_("reason"))
    def reason_masked(self, obj):
        return mask_numbers_in_text(obj.reason)

    @admin.display(description=_("decision comment"))
    def decision_comment_masked(self, obj):
        return mask_numbers_in_text(obj.decision_comment)

    @admin.display(description=_("proposed values (masked)"))
    def proposed_values_masked(self, change_request: ChangeRequest):
        return _masked_values_html(change_request.target, change_request.proposed_values)


@admin.register(RecordVersion)
class RecordVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("enterprise", "target", "change_request", "replaced_by", "replaced_at")
    list_filter = ("target",)
    search_fields = ("enterprise__name",)
    list_select_related = ("enterprise", "change_request", "replaced_by")
    fields = ("enterprise", "target", "masked_previous_values", "change_request", "replaced_by", "replaced_at")
    readonly_fields = fields

    @admin.display(description=_("replaced values (masked)"))
    def masked_previous_values(self, version: RecordVersion):
        return _masked_values_html(version.target, version.previous_values)
