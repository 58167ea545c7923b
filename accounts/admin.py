"""Django admin for ops: users, role grants; provinces and the logs read-only.

Ops (role "ops", is_staff) may use these pages by the capability table
(accounts.permissions: USERS_MANAGE, OPS_ADMIN_VIEW) and hold the model
permissions derived from it through their role group (ROLE_PERMISSIONS): view
permissions plus add/change on users and add on role grants. Every user
change goes through accounts.users, which decides what ops may do alone and
what needs a superuser (issue 7 §2.1). Personal data is
never shown here in full; see enterprises/admin.py for the masked records.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts import users
from accounts.models import AuditEvent, Notice, PiiAccessLog, Province, RoleGrant, User
from accounts.permissions import Capability, can
from core.errors import DomainError
from core.identity import mask_numbers_in_text
from core.pagination import CappedListAdminMixin


class CapabilityAdminMixin:
    """A model admin of the operations admin that asks the capability table (accounts.permissions) first.

    The table says who uses the page at all, its superuser row and an actor's capability_limit included.
    Django's model permissions, which each role's group gets from the same table (ROLE_PERMISSIONS), then
    say view, add or change per model: the table has no per-model split (ops add users but only view the
    audit events), and a group is only as fresh as its last sync (post_migrate), so both are asked.
    """

    capability: Capability

    def _holds(self, request) -> bool:
        return can(request.user, self.capability)

    def has_module_permission(self, request):
        return self._holds(request) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return self._holds(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args):
        return self._holds(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return self._holds(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._holds(request) and super().has_delete_permission(request, obj)


class ReadOnlyAdminMixin:
    """View only, for everyone including superusers: a fact of these records, which change through services."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInlineMixin(ReadOnlyAdminMixin):
    """An inline that shows its `fields` and nothing else: no blank rows, no delete boxes."""

    can_delete = False
    extra = 0

    def get_readonly_fields(self, request, obj=None):
        return self.fields


class UserAddForm(forms.ModelForm):
    """A new account has no password field: its owner sets one through the emailed one-time link."""

    actor = None  # the admin user, set per request by UserAdmin.get_form

    class Meta:
        model = User
        fields = ("username", "full_name", "email", "role", "province", "enterprise")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].required = True
        self.fields["email"].help_text = _("The set-password link is sent here.")

    def clean(self):
        data = super().clean()
        refusal = users.user_change_refusal(
            actor=self.actor,
            user=None,
            changes={k: data.get(k) for k in ("role", "province", "enterprise")},
        )
        if refusal is not None:
            self.add_error(None, refusal.message)
        return data


class UserChangeForm(forms.ModelForm):
    """The fields a user-management action may change; password, staff, groups and permissions are not here."""

    actor = None

    class Meta:
        model = User
        fields = ("full_name", "email", "role", "province", "enterprise", "is_active", "is_superuser")

    def clean(self):
        data = super().clean()
        changes = {name: data.get(name) for name in self.changed_data if name in users.CHANGEABLE}
        refusal = users.user_change_refusal(actor=self.actor, user=self.instance, changes=changes)
        if refusal is not None:
            self.add_error(refusal.field if refusal.field in self.fields else None, refusal.message)
        return data


@admin.register(User)
class UserAdmin(CapabilityAdminMixin, admin.ModelAdmin):
    """Users are created and changed through accounts.users. A plain ModelAdmin, not Django's UserAdmin:
    no "<id>/password/" page (nobody types a password for someone else), no deletion (deactivate instead,
    so the history keeps its actors); role changes that need a superuser go by role grant."""

    capability = Capability.USERS_MANAGE
    list_display = ("username", "full_name", "role", "province", "enterprise", "is_staff", "is_active", "last_login")
    list_filter = ("role", "province", "is_staff", "is_active")
    search_fields = ("username", "full_name", "email")
    list_select_related = ("province", "enterprise")
    autocomplete_fields = ("enterprise",)
    ordering = ("username",)
    actions = ["send_password_link"]
    add_fieldsets = (
        (None, {"fields": ("username", "full_name", "email")}),
        (_("Role and scope"), {"fields": ("role", "province", "enterprise")}),
    )

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.add_fieldsets
        status = ["is_active", "is_staff"]
        if request.user.is_superuser:
            status.append("is_superuser")
        return (
            (None, {"fields": ("username", "password_status")}),
            (_("Personal info"), {"fields": ("full_name", "email")}),
            (_("Role and scope"), {"fields": ("role", "province", "enterprise")}),
            (_("Permissions"), {"fields": (*status, "groups", "user_permissions")}),
            (_("Important dates"), {"fields": ("last_login", "date_joined")}),
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        # Groups follow the role and staff follows the role ops (accounts.users); single permissions
        # are never granted: roles are the one capability table.
        fields = ["username", "password_status", "is_staff", "groups", "user_permissions", "last_login", "date_joined"]
        if not request.user.is_superuser:
            fields.append("is_superuser")
            if obj.pk == request.user.pk:
                fields += ["role", "province", "enterprise", "is_active"]
        return fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        base = UserChangeForm if obj is not None else UserAddForm
        form = type(base.__name__, (base,), {"actor": request.user})
        kwargs["form"] = form
        kwargs["fields"] = None
        return super().get_form(request, obj, change=change, **kwargs)

    @admin.display(description=_("password"))
    def password_status(self, obj):
        if obj.has_usable_password():
            return _("Set by the user. Nobody else sets it: send a set-password link if it is forgotten.")
        return _("Not set yet: the user sets it through the emailed link.")

    def has_delete_permission(self, request, obj=None):
        return False  # a fact of the record: deactivated, never deleted, so the history keeps its actors

    def has_change_permission(self, request, obj=None):
        # A fact of the record: a superuser's account is a superuser's to change.
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def get_urls(self):
        # Named for what it refuses: "<id>/password/" would otherwise fall through to the change view.
        return [
            path("<id>/password/", self.admin_site.admin_view(self.password_refused), name="accounts_user_password"),
            *super().get_urls(),
        ]

    def password_refused(self, request, id):
        raise PermissionDenied(_("Nobody sets another person's password. Send a set-password link instead."))

    def lookup_allowed(self, lookup, value, request=None):
        return not lookup.startswith("password") and super().lookup_allowed(lookup, value, request)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            changes = {name: data[name] for name in form.changed_data if name in users.CHANGEABLE}
            saved = users.user_update(actor=request.user, user=User.objects.get(pk=obj.pk), changes=changes)
        else:
            saved = users.user_invite(
                actor=request.user,
                username=data["username"],
                role=data["role"],
                email=data["email"],
                province=data.get("province"),
                enterprise=data.get("enterprise"),
                full_name=data.get("full_name", ""),
                request=request,
            )
        obj.pk = saved.pk
        obj.refresh_from_db()
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        """Nothing to save: the form has no many-to-many fields, and the service kept the groups."""

    @admin.action(description=_("Send the selected users a set-password link"), permissions=["change"])
    def send_password_link(self, request, queryset):
        sent = 0
        for user in queryset:
            try:
                users.user_send_password_link(actor=request.user, user=user, request=request)
                sent += 1
            except DomainError as exc:
                self.message_user(request, f"{user.username}: {exc.message}", messages.ERROR)
        if sent:
            self.message_user(request, _("%(count)d link(s) sent.") % {"count": sent}, messages.SUCCESS)


class RoleGrantForm(forms.ModelForm):
    actor = None

    class Meta:
        model = RoleGrant
        fields = ("user", "role", "province", "enterprise", "reason")

    def clean(self):
        data = super().clean()
        if data.get("user") is not None and data.get("role"):
            refusal = users.role_grant_refusal(
                actor=self.actor,
                user=data["user"],
                role=data["role"],
                province=data.get("province"),
                enterprise=data.get("enterprise"),
                reason=data.get("reason", ""),
            )
            if refusal is not None:
                self.add_error(refusal.field if refusal.field in self.fields else None, refusal.message)
        return data

    def validate_constraints(self, exclude=None):
        """The one-pending-grant rule is checked (and worded) by role_grant_refusal."""


class RoleGrantRejectForm(forms.Form):
    comment = forms.CharField(
        label=_("Why it is rejected"), widget=forms.Textarea(attrs={"rows": 3}), max_length=users.MAX_TEXT_LENGTH
    )


@admin.register(RoleGrant)
class RoleGrantAdmin(CapabilityAdminMixin, admin.ModelAdmin):
    """Ops file role grants here; a superuser (not the one who filed it) approves or rejects them."""

    capability = Capability.USERS_MANAGE

    list_display = (
        "user",
        "role",
        "province",
        "enterprise",
        "status",
        "requested_by",
        "requested_at",
        "decided_by",
        "decided_at",
    )
    list_filter = ("status", "role")
    search_fields = ("user__username", "user__full_name")
    list_select_related = ("user", "province", "enterprise", "requested_by", "decided_by")
    autocomplete_fields = ("user", "enterprise")
    actions = ["approve_grants", "reject_grants"]
    readonly_fields = (
        "user",
        "role",
        "province",
        "enterprise",
        "reason_masked",
        "status",
        "requested_by",
        "requested_at",
        "decided_by",
        "decided_at",
        "comment_masked",
    )

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("user", "role", "province", "enterprise", "reason")
        return self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = type("RoleGrantForm", (RoleGrantForm,), {"actor": request.user})
        return super().get_form(request, obj, change=change, **kwargs)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        if not can(request.user, Capability.ROLES_GRANT):
            actions.pop("approve_grants", None)
            actions.pop("reject_grants", None)
        return actions

    # Facts of the record: a grant changes only by its decision, and stays as history.
    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("reason"))
    def reason_masked(self, obj):
        return mask_numbers_in_text(obj.reason)

    @admin.display(description=_("decision comment"))
    def comment_masked(self, obj):
        return mask_numbers_in_text(obj.decision_comment)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        grant = users.role_grant_file(
            actor=request.user,
            user=data["user"],
            role=data["role"],
            province=data.get("province"),
            enterprise=data.get("enterprise"),
            reason=data.get("reason", ""),
        )
        obj.pk = grant.pk
        obj.refresh_from_db()
        obj._state.adding = False

    def _decide(self, request, queryset, *, approve: bool, comment: str = "") -> None:
        decided = 0
        for grant in queryset:
            try:
                users.role_grant_decide(grant=grant, actor=request.user, approve=approve, comment=comment)
                decided += 1
            except DomainError as exc:
                self.message_user(request, f"{grant}: {exc.message}", messages.ERROR)
        if decided:
            message = _("%(count)d approved.") if approve else _("%(count)d rejected.")
            self.message_user(request, message % {"count": decided}, messages.SUCCESS)

    @admin.action(description=_("Approve the selected role grants"))
    def approve_grants(self, request, queryset):
        self._decide(request, queryset, approve=True)

    @admin.action(description=_("Reject the selected role grants (with a comment)"))
    def reject_grants(self, request, queryset):
        form = RoleGrantRejectForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            self._decide(request, queryset, approve=False, comment=form.cleaned_data["comment"])
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Reject the selected role grants"),
            "grants": list(queryset),
            "form": form,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/accounts/rolegrant_reject.html", context)


@admin.register(Province)
class ProvinceAdmin(CapabilityAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    capability = Capability.OPS_ADMIN_VIEW
    list_display = ("code", "name", "name_en")
    search_fields = ("code", "name", "name_en")


# Logged field names that are no model field of their own (the number is kept encrypted under another name).
PII_FIELD_LABELS = {
    "id_number": _("ID number"),
    "name": _("name"),
    # A change request's numbers, before and after (approvals' change-request page).
    "old_credential_number": _("Credential number (before the change)"),
    "new_credential_number": _("Credential number (after the change)"),
    "old_id_number": _("ID number (before the change)"),
    "new_id_number": _("ID number (after the change)"),
}


def pii_field_label(content_type_id: int, field: str):
    """The field's own label on its model ("ID photo"), not the code that was logged ("id_photo")."""
    if field in PII_FIELD_LABELS:
        return PII_FIELD_LABELS[field]
    model = ContentType.objects.get_for_id(content_type_id).model_class()
    try:
        found = model._meta.get_field(field) if model else None
    except FieldDoesNotExist:
        found = None
    return getattr(found, "verbose_name", None) or field


class PiiFieldFilter(admin.SimpleListFilter):
    """The fields that were opened, by their labels."""

    title = _("field")
    parameter_name = "field"

    def lookups(self, request, model_admin):
        pairs = model_admin.get_queryset(request).values_list("content_type_id", "field").distinct()
        labels = {}
        for content_type_id, field in pairs.order_by("field")[:200]:
            labels.setdefault(field, str(pii_field_label(content_type_id, field)))
        return sorted(labels.items(), key=lambda item: item[1])

    def queryset(self, request, queryset):
        return queryset.filter(field=self.value()) if self.value() else queryset


@admin.register(PiiAccessLog)
class PiiAccessLogAdmin(CapabilityAdminMixin, CappedListAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    capability = Capability.OPS_ADMIN_VIEW
    list_display = ("at", "actor", "field_label", "content_type", "object_id", "ip_address")
    # Only the kinds of record that hold personal data and were opened, not every model of the project.
    list_filter = (PiiFieldFilter, ("content_type", admin.RelatedOnlyFieldListFilter), "at")
    search_fields = ("actor__username", "object_id", "ip_address")
    list_select_related = ("actor", "content_type")
    # Its keyset order (core.pagination), on the index of `at`: PostgreSQL sorts only a time's ties by id.
    ordering = ("-at", "-id")
    fields = ("at", "actor", "field_label", "content_type", "object_id", "ip_address")
    readonly_fields = fields

    @admin.display(description=_("field"), ordering="field")
    def field_label(self, obj):
        return pii_field_label(obj.content_type_id, obj.field)


@admin.register(AuditEvent)
class AuditEventAdmin(CapabilityAdminMixin, CappedListAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    capability = Capability.OPS_ADMIN_VIEW
    list_display = ("at", "actor", "action", "content_type", "object_id")
    # The content types are a small table of their own; the dates are fixed ranges (no date hierarchy,
    # whose links are a DISTINCT over the whole log).
    list_filter = ("action", "content_type", "at")
    search_fields = ("action", "actor__username", "object_id")
    list_select_related = ("actor", "content_type")
    # `data` holds no personal data by contract, but free text people typed (comments, reasons) is kept as
    # written: ID and credential numbers in it are masked for display.
    fields = ("at", "actor", "action", "content_type", "object_id", "data_masked")
    readonly_fields = fields

    @admin.display(description=_("details"))
    def data_masked(self, obj):
        text = json.dumps(obj.data, ensure_ascii=False, indent=2, sort_keys=True, default=str)
        return format_html("<pre>{}</pre>", mask_numbers_in_text(text))


@admin.register(Notice)
class NoticeAdmin(CapabilityAdminMixin, CappedListAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """The in-app notices, for troubleshooting delivery (was it written, read, emailed?). A notice's text
    names people masked by contract; the numbers in it are masked here all the same."""

    capability = Capability.OPS_ADMIN_VIEW
    list_display = ("created_at", "recipient", "kind", "title_masked", "read_at", "emailed_at")
    list_filter = ("kind", "created_at")
    search_fields = ("recipient__username",)
    search_help_text = _("The recipient's user name.")
    list_select_related = ("recipient",)
    # Its keyset order, on the index notice_created (core.pagination).
    ordering = ("-created_at", "-id")
    fields = (
        "created_at",
        "recipient",
        "kind",
        "title_masked",
        "body_masked",
        "link",
        "content_type",
        "object_id",
        "read_at",
        "emailed_at",
    )
    readonly_fields = fields

    @admin.display(description=_("title"))
    def title_masked(self, obj):
        return mask_numbers_in_text(obj.title)

    @admin.display(description=_("text"))
    def body_masked(self, obj):
        return mask_numbers_in_text(obj.body)
