"""The list exports in the operations admin: read-only, for troubleshooting a build (status, rows, times).

An export's filters may hold a searched name or ID number, and its file is the list itself: neither is
shown here. The file is served only to its requester, by portal.export_views.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.admin import CapabilityAdminMixin, ReadOnlyAdminMixin
from accounts.permissions import Capability
from core.pagination import CappedListAdminMixin
from portal.exports import LISTS
from portal.models import ListExport


class ListNameFilter(admin.SimpleListFilter):
    """The lists that can be exported (portal.exports.LISTS), by their titles: no DISTINCT over the exports."""

    title = _("list")
    parameter_name = "list_name"

    def lookups(self, request, model_admin):
        return [(name, spec.title) for name, spec in LISTS.items()]

    def queryset(self, request, queryset):
        return queryset.filter(list_name=self.value()) if self.value() else queryset


@admin.register(ListExport)
class ListExportAdmin(CapabilityAdminMixin, CappedListAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    capability = Capability.OPS_ADMIN_VIEW
    list_display = ("created_at", "requested_by", "list_name", "file_format", "status", "done_rows", "total_rows")
    list_filter = ("status", ListNameFilter, "file_format", "created_at")
    search_fields = ("requested_by__username",)
    list_select_related = ("requested_by",)
    # An allow-list: no `parameters` (the search may be personal data) and no `file`.
    fields = (
        "public_id",
        "requested_by",
        "list_name",
        "file_format",
        "status",
        "total_rows",
        "done_rows",
        "created_at",
        "queued_at",
        "finished_at",
        "expires_at",
    )
    readonly_fields = fields
