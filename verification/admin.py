"""Face verifications in the operations admin: read-only and masked.

Ops troubleshoot comparisons (status, outcome, distance, thresholds, engine,
timings, reasons) but see no photos and no card user's name or number: the
card user and order are shown by their opaque references only. Reviewers
decide on the approval desk (approvals.admin.approvals_site), not here.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.access import scoped
from accounts.admin import CapabilityAdminMixin
from accounts.permissions import Capability
from core.identity import mask_numbers_in_text
from core.pagination import CappedListAdminMixin
from verification.models import Verification


def _ref(value) -> str:
    return str(value)[:8].upper() if value else "—"


@admin.register(Verification)
class VerificationOpsAdmin(CapabilityAdminMixin, CappedListAdminMixin, admin.ModelAdmin):
    capability = Capability.OPS_ADMIN_VIEW
    list_display = ("reference", "purpose", "enterprise", "status", "outcome", "distance", "engine", "created_at")
    list_filter = ("status", "purpose", "outcome", "engine")
    search_fields = ("enterprise__name",)
    # Its keyset order, on the index verification_created (core.pagination).
    ordering = ("-created_at", "-id")
    fields = (
        "reference",
        "purpose",
        "enterprise",
        "order_number",
        "card_user_reference",
        "status",
        "outcome",
        "distance",
        "threshold_pass",
        "threshold_fail",
        "engine",
        "engine_version",
        "timings_ms",
        "reason_codes",
        "replay_reference",
        "attempts",
        "reviewed_by",
        "reviewed_at",
        "review_comment_scrubbed",
        "created_by",
        "created_at",
        "completed_at",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return scoped(super().get_queryset(request), request.user, path="enterprise__").select_related(
            "enterprise", "order", "reviewed_by", "created_by"
        )

    # Facts of the record: a comparison is made and decided through verification.services (reviewers on
    # the approval desk), never written here.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("comparison"))
    def reference(self, obj):
        return _ref(obj.public_id)

    @admin.display(description=_("order"))
    def order_number(self, obj):
        return obj.order.number if obj.order_id else "—"

    @admin.display(description=_("card user"))
    def card_user_reference(self, obj):
        # The card user's name and ID number are personal data: their opaque reference only.
        return _ref(obj.card_user.public_id) if obj.card_user_id else "—"

    @admin.display(description=_("reasons"))
    def reason_codes(self, obj):
        return ", ".join(str(r.get("code", "")) for r in obj.reasons or []) or "—"

    @admin.display(description=_("reused live photo of"))
    def replay_reference(self, obj):
        return _ref(obj.replay_of.public_id) if obj.replay_of_id else "—"

    @admin.display(description=_("review comment"))
    def review_comment_scrubbed(self, obj):
        return mask_numbers_in_text(obj.review_comment)
