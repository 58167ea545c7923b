"""Django admin for ops: users and roles; provinces and the logs read-only.

Ops (role "ops", is_staff) hold view permissions through their role group
(accounts.roles.ROLE_PERMISSIONS) plus add/change on users. Personal data is
never shown here in full; see enterprises/admin.py for the masked records.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts.models import AuditEvent, PiiAccessLog, Province, User
from accounts.services import user_sync_role_group


class ReadOnlyAdminMixin:
    """View only, for everyone including superusers: these records change through services."""

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


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "full_name", "role", "province", "enterprise", "is_staff", "is_active", "last_login")
    list_filter = ("role", "province", "is_staff", "is_active")
    search_fields = ("username", "full_name", "email")
    list_select_related = ("province", "enterprise")
    autocomplete_fields = ("enterprise",)
    ordering = ("username",)
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Personal info"), {"fields": ("full_name", "email")}),
        (_("Role and scope"), {"fields": ("role", "province", "enterprise")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        (_("Role and scope"), {"fields": ("full_name", "email", "role", "province", "enterprise", "is_staff")}),
    )

    def get_readonly_fields(self, request, obj=None):
        # Groups follow the role (user_sync_role_group); they are never edited by hand.
        fields = ["groups", "last_login", "date_joined"]
        if not request.user.is_superuser:
            # Ops manage users; they cannot grant superuser or single permissions
            # (such as accounts.view_full_pii), nor change their own role or scope.
            fields += ["is_superuser", "user_permissions"]
            if obj is not None and obj.pk == request.user.pk:
                fields += ["role", "province", "enterprise", "is_staff", "is_active"]
        return fields

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def save_related(self, request, form, formsets, change):
        # After the form's many-to-many data is saved, so nothing overwrites the sync.
        super().save_related(request, form, formsets, change)
        user_sync_role_group(user=form.instance)


@admin.register(Province)
class ProvinceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name", "name_en")
    search_fields = ("code", "name", "name_en")


@admin.register(PiiAccessLog)
class PiiAccessLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("at", "actor", "field", "content_type", "object_id", "ip_address")
    list_filter = ("field", "content_type", "at")
    search_fields = ("actor__username", "object_id", "ip_address")
    list_select_related = ("actor", "content_type")
    date_hierarchy = "at"
    fields = ("at", "actor", "field", "content_type", "object_id", "ip_address")
    readonly_fields = fields


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("at", "actor", "action", "content_type", "object_id")
    list_filter = ("action", "content_type", "at")
    search_fields = ("action", "actor__username", "object_id")
    list_select_related = ("actor", "content_type")
    date_hierarchy = "at"
    # `data` never holds personal data in the clear (AuditEvent's contract).
    fields = ("at", "actor", "action", "content_type", "object_id", "data")
    readonly_fields = fields
