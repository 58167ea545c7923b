"""Role-based admin views.

* `approvals_site` (mounted at /approvals/admin/) is the approval desk of the
  provincial and group approvers. It is an AdminSite of its own: only approver
  roles get in (they are not `is_staff` and never see the operations admin),
  and every queryset comes from approvals.selectors, so a provincial approver
  sees their own province only and a group approver the group-level requests
  nationwide. Each request opens on a decision page (details, the approval
  form or both photos inline, approve/reject with a comment); the list has
  filters and bulk approve/reject actions with an intermediate page that asks
  for the comment. Decisions go through approvals.services /
  verification.services, like everywhere else.
* On the standard admin (`admin.site`), ops see exemption requests and
  decisions read-only, with free text scrubbed of numbers and no files.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import SimpleListFilter
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts.access import scoped
from accounts.admin import CapabilityAdminMixin, ReadOnlyAdminMixin, ReadOnlyInlineMixin
from accounts.permissions import Capability, can, may_somewhere
from approvals import selectors, services
from approvals.forms import BulkDecisionForm, DecisionForm
from approvals.models import (
    ApprovalLevel,
    Decision,
    ExemptionAttachment,
    ExemptionRequest,
)
from approvals.views import card_rows, change_rows, reason_texts
from cards.templatetags.rule_tags import rule_tag, rule_tags
from core.errors import DomainError
from core.http import no_store
from core.identity import mask_numbers_in_text
from core.pagination import CappedListAdminMixin
from core.text import join_words
from enterprises.models import ChangeRequest, ChangeRequestStatus, Enterprise
from enterprises.selectors import documents_visible_to
from verification.models import LIVENESS_FOR_REVIEW, Verification, VerificationPurpose, VerificationStatus
from verification.services import verification_review

# --- the approval desk -----------------------------------------------------------


class ApprovalsAdminSite(admin.AdminSite):
    site_header = _("Approval desk")
    site_title = _("IoT card real-name portal: approvals")
    index_title = _("Requests awaiting your decision")
    site_url = "/"
    enable_nav_sidebar = False
    # The desk's own home and app pages: Django's list the queues under "Change" (修改) links and an edit log.
    index_template = "admin/approvals/desk_index.html"
    app_index_template = "admin/approvals/desk_index.html"

    def has_permission(self, request) -> bool:
        return selectors.is_approver(request.user)

    def login(self, request, extra_context=None):
        """Approvers log in on the portal's login page; the desk has none of its own."""
        if request.user.is_authenticated:
            if self.has_permission(request):
                return HttpResponseRedirect(reverse(f"{self.name}:index"))
            raise PermissionDenied(str(_("The approval desk is for provincial and group approvers.")))
        return redirect_to_login(request.GET.get("next") or reverse(f"{self.name}:index"), settings.LOGIN_URL)


approvals_site = ApprovalsAdminSite(name="approvals_admin")
approvals_site.disable_action("delete_selected")


def _ref(obj) -> str:
    return str(obj.public_id)[:8].upper()


class DeskAdmin(admin.ModelAdmin):
    """Common ground: read-only lists scoped by the selectors, a decision page, bulk decisions."""

    list_per_page = 50
    decide_template = ""
    actions = ["approve_selected", "reject_selected"]

    # The desk asks the table directly, not the model permissions derived from it: both levels' groups
    # hold every desk model (accounts.permissions.ADMIN_PERMISSIONS), while the table says which level
    # decides what (a group approver decides no change request and reviews no face comparison). The
    # querysets do the scoping.
    deciding: tuple[Capability, ...] = (Capability.DECIDE_PROVINCE, Capability.DECIDE_GROUP)

    def _allowed(self, request) -> bool:
        return any(may_somewhere(request.user, capability) for capability in self.deciding)

    def has_module_permission(self, request):
        return self._allowed(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request)

    def has_change_permission(self, request, obj=None):
        # "Change" here means "decide"; no field is ever edited.
        return self._allowed(request)

    # Facts of the records: a request is filed and a comparison made through the services, and a decision
    # is history, so nobody adds or deletes one here.
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def rows_in_scope(self, request) -> QuerySet:
        """The desk's rows without what its list annotates them with (the enterprise filter asks only
        which enterprises hold one: a count of each request's cards there grouped every row it probed)."""
        return self.get_queryset(request)

    def get_list_display_links(self, request, list_display):
        return (list_display[0],)

    # --- the decision page ---

    def decide_context(self, request, obj) -> dict:
        raise NotImplementedError

    def decide(self, request, obj, *, approve: bool, comment: str):
        raise NotImplementedError

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404(str(_("It does not exist, or it is outside your scope.")))
        form = DecisionForm(request.POST if request.method == "POST" else None)
        status = 200
        if request.method == "POST":
            if form.is_valid():
                try:
                    self.decide(request, obj, approve=form.approve, comment=form.cleaned_data["comment"])
                except DomainError as exc:
                    form.add_error("comment" if exc.field == "comment" else None, exc.message)
                    status = 400
                else:
                    self.message_user(
                        request, _("Your decision on %(ref)s was recorded.") % {"ref": _ref(obj)}, messages.SUCCESS
                    )
                    return HttpResponseRedirect(
                        reverse(f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_changelist")
                    )
            else:
                status = 400
            obj = self.get_object(request, object_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Decide %(ref)s") % {"ref": _ref(obj)},
            "object": obj,
            "form": form,
            "has_view_permission": True,
            **self.decide_context(request, obj),
            **(extra_context or {}),
        }
        response = TemplateResponse(request, self.decide_template, context, status=status)
        no_store(response)
        return response

    # --- bulk decisions, with an intermediate page asking for the comment ---

    def bulk_decide(self, request, queryset, *, approve: bool, comment: str) -> services.BulkResult:
        raise NotImplementedError

    def _bulk(self, request, queryset, *, approve: bool, action: str):
        form = BulkDecisionForm(request.POST if "apply" in request.POST else None, require_comment=not approve)
        if "apply" in request.POST and form.is_valid():
            result = self.bulk_decide(request, queryset, approve=approve, comment=form.cleaned_data["comment"])
            if result.decided:
                self.message_user(
                    request,
                    (_("%(count)d approved.") if approve else _("%(count)d rejected."))
                    % {"count": len(result.decided)},
                    messages.SUCCESS,
                )
            for item, exc in result.errors:
                self.message_user(request, f"{_ref(item)}: {exc.message}", messages.ERROR)
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Approve the selected items") if approve else _("Reject the selected items"),
            "items": [{"pk": o.pk, "ref": _ref(o), "enterprise": o.enterprise.name} for o in queryset],
            "form": form,
            "approve": approve,
            "action": action,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "select_across": request.POST.get("select_across", "0"),
        }
        return TemplateResponse(request, "admin/approvals/bulk_decision.html", context)

    @admin.action(description=_("Approve the selected items"))
    def approve_selected(self, request, queryset):
        return self._bulk(request, queryset, approve=True, action="approve_selected")

    @admin.action(description=_("Reject the selected items (with a comment)"))
    def reject_selected(self, request, queryset):
        return self._bulk(request, queryset, approve=False, action="reject_selected")


# --- exemption requests ---


class LevelFilter(SimpleListFilter):
    title = _("approval level")
    parameter_name = "level"

    def lookups(self, request, model_admin):
        return ApprovalLevel.choices

    def queryset(self, request, queryset):
        if self.value() in ApprovalLevel.values:
            return queryset.filter(selectors.json_list_has("required_levels", self.value()))
        return queryset


class RuleFilter(SimpleListFilter):
    title = _("rule")
    parameter_name = "rule"

    def lookups(self, request, model_admin):
        return [(rule, rule_tag(rule)) for rule in ("U1", "U3")]

    def queryset(self, request, queryset):
        if self.value() in selectors.RULES_IN_REQUESTS:
            return queryset.filter(selectors.json_list_has("rules", self.value()))
        return queryset


class AwaitingMeFilter(SimpleListFilter):
    title = _("awaiting my decision")
    parameter_name = "awaiting"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(awaiting=True)
        return queryset


class ScopedEnterpriseFilter(SimpleListFilter):
    """Lists only the enterprises in the approver's scope (a related-field filter would list them all)."""

    title = _("enterprise")
    parameter_name = "enterprise"

    def lookups(self, request, model_admin):
        # An enterprise is listed where the desk holds a row of it: a probe of the rows' enterprise index per
        # enterprise, where a DISTINCT over the desk's rows read every row it ever held.
        holds = model_admin.rows_in_scope(request).filter(enterprise=OuterRef("pk"))
        rows = Enterprise.objects.filter(Exists(holds)).order_by("name").values_list("public_id", "name")
        return [(str(public_id), name) for public_id, name in rows[:200]]

    def queryset(self, request, queryset):
        if self.value():
            key = selectors._parse_uuid(self.value())
            return queryset.filter(enterprise__public_id=key) if key else queryset.none()
        return queryset


class ExemptionDeskAdmin(DeskAdmin):
    list_display = (
        "reference",
        "enterprise_name",
        "rules_text",
        "levels_text",
        "status",
        "card_count",
        "submitted_at",
        "awaiting_you",
    )
    list_filter = (AwaitingMeFilter, "status", LevelFilter, RuleFilter, ScopedEnterpriseFilter)
    search_fields = ("enterprise__name",)
    ordering = ("-submitted_at",)
    decide_template = "admin/approvals/exemption_decide.html"

    def rows_in_scope(self, request):
        return selectors.exemptions_in_scope_of_approver(request.user)

    def get_queryset(self, request):
        pending = selectors.exemptions_pending_for(request.user).filter(pk=OuterRef("pk")).values("pk")
        return self.rows_in_scope(request).annotate(n_cards=Count("cards", distinct=True), awaiting=Exists(pending))

    @admin.display(description=_("request"))
    def reference(self, obj):
        return _ref(obj)

    @admin.display(description=_("enterprise"), ordering="enterprise__name")
    def enterprise_name(self, obj):
        return obj.enterprise.name

    @admin.display(description=_("rules"))
    def rules_text(self, obj):
        return rule_tags(obj.rules)

    @admin.display(description=_("approvals needed"))
    def levels_text(self, obj):
        return join_words(ApprovalLevel(level).label for level in obj.required_levels)

    @admin.display(description=_("cards"), ordering="n_cards")
    def card_count(self, obj):
        return obj.n_cards

    @admin.display(description=_("awaiting you"), boolean=True, ordering="-awaiting")
    def awaiting_you(self, obj):
        return obj.awaiting

    def decide_context(self, request, obj):
        cards = card_rows(obj, request)
        levels = selectors.levels_to_decide(request.user, obj)
        return {
            "cards": cards,
            "card_total": obj.cards.count(),
            "attachments": list(obj.attachments.all()),
            "can_open_files": can(request.user, Capability.ENTERPRISE_FILES_OPEN, obj.enterprise),
            "decisions": list(obj.decisions.all()),
            "levels_to_decide": [ApprovalLevel(level).label for level in levels],
            "may_decide": bool(levels),
            "self_filed": obj.submitted_by_id == request.user.pk,
        }

    def decide(self, request, obj, *, approve, comment):
        services.exemption_decide(
            request=obj,
            actor=request.user,
            level=selectors.approver_level(request.user) or "",
            approve=approve,
            comment=comment,
        )

    def bulk_decide(self, request, queryset, *, approve, comment):
        return services.exemption_decide_many(
            requests=list(queryset), actor=request.user, approve=approve, comment=comment
        )


# --- change requests (E3, P4): provincial approvers only ---


class ChangeRequestDeskAdmin(DeskAdmin):
    list_display = ("reference", "enterprise_name", "target", "status", "submitted_at", "decided_at")
    list_filter = ("status", "target", ScopedEnterpriseFilter)
    search_fields = ("enterprise__name",)
    ordering = ("-submitted_at",)
    decide_template = "admin/approvals/change_request_decide.html"
    deciding = (Capability.DECIDE_PROVINCE,)

    def get_queryset(self, request):
        return selectors.change_requests_decidable_by(request.user)

    @admin.display(description=_("request"))
    def reference(self, obj):
        return _ref(obj)

    @admin.display(description=_("enterprise"), ordering="enterprise__name")
    def enterprise_name(self, obj):
        return obj.enterprise.name

    def decide_context(self, request, obj):
        return {
            "changes": change_rows(obj),
            # The desk only links to the page that reveals a number (accounts.reveals): budgeted and logged there.
            "full_pii": can(request.user, Capability.VIEW_FULL_PII, obj.enterprise),
            "page_url": reverse("approvals:change_request_detail", args=[obj.public_id]),
            "documents": documents_visible_to(request.user).filter(change_request=obj),
            "decisions": list(obj.decisions.select_related("decided_by")),
            "may_decide": selectors.change_request_open_to(request.user, obj)
            and can(request.user, Capability.DECIDE_PROVINCE, obj.enterprise),
            "self_filed": obj.submitted_by_id == request.user.pk,
            "is_open": obj.status == ChangeRequestStatus.SUBMITTED,
        }

    def decide(self, request, obj, *, approve, comment):
        services.change_request_decide(change_request=obj, actor=request.user, approve=approve, comment=comment)

    def bulk_decide(self, request, queryset, *, approve, comment):
        return services.change_request_decide_many(
            change_requests=list(queryset), actor=request.user, approve=approve, comment=comment
        )


# --- manual face review: provincial approvers only ---


class ReviewDeskAdmin(CappedListAdminMixin, DeskAdmin):
    """The comparisons of the province, oldest first by keyset (core.pagination): a page walks the index
    verification_created until it holds its rows, and counts at most COUNT_CAP. Ordered by the nullable
    completed_at under Django's numbered pages, every page sorted and counted, twice, every comparison
    the province ever made (11.6 ms for the page's query alone with ten times the 1M world's)."""

    list_display = (
        "reference",
        "enterprise_name",
        "purpose",
        "status",
        "outcome",
        "distance_text",
        "replay",
        "completed_at",
    )
    list_filter = ("status", "purpose", "outcome", ScopedEnterpriseFilter)
    search_fields = ("enterprise__name",)
    # Created, as the queue is (approvals.selectors.review_queue): completed_at may be empty, and a keyset
    # needs a column that never is.
    ordering = ("created_at", "pk")
    decide_template = "admin/approvals/review_decide.html"
    deciding = (Capability.FACE_REVIEW,)

    def get_queryset(self, request):
        return selectors.reviews_in_scope(request.user).select_related("enterprise", "order")

    @admin.display(description=_("comparison"))
    def reference(self, obj):
        return _ref(obj)

    @admin.display(description=_("enterprise"), ordering="enterprise__name")
    def enterprise_name(self, obj):
        return obj.enterprise.name

    @admin.display(description=_("distance"), ordering="distance")
    def distance_text(self, obj):
        return "—" if obj.distance is None else f"{obj.distance:.3f}"

    @admin.display(description=_("reused live photo"), boolean=True)
    def replay(self, obj):
        return obj.replay_of_id is not None

    def decide_context(self, request, obj):
        return {
            "reason_texts": reason_texts(obj, getattr(request, "LANGUAGE_CODE", "zh-hans")),
            "id_photo_url": reverse("approvals:verification_photo", args=[obj.public_id, "id"]),
            "live_photo_url": reverse("approvals:verification_photo", args=[obj.public_id, "live"]),
            # A capture that proved no presence (issue 9 §3): how the photo came, and its frames side by side.
            "liveness_review": obj.liveness in LIVENESS_FOR_REVIEW,
            "frames_url": reverse("approvals:verification_photo", args=[obj.public_id, "frames"])
            if obj.liveness_frames
            else None,
            "may_decide": obj.status == VerificationStatus.IN_REVIEW and obj.created_by_id != request.user.pk,
            "self_filed": obj.created_by_id == request.user.pk,
            "cards": list(obj.cards.order_by("iccid")[:50]) if obj.purpose == VerificationPurpose.CARD_USER else [],
        }

    def decide(self, request, obj, *, approve, comment):
        verification_review(verification=obj, actor=request.user, approve=approve, comment=comment)

    def bulk_decide(self, request, queryset, *, approve, comment):
        return services.review_decide_many(
            verifications=list(queryset), actor=request.user, approve=approve, comment=comment
        )


approvals_site.register(ExemptionRequest, ExemptionDeskAdmin)
approvals_site.register(ChangeRequest, ChangeRequestDeskAdmin)
approvals_site.register(Verification, ReviewDeskAdmin)


# --- the operations admin: read-only, masked ------------------------------------


class OpsReadOnlyAdmin(CapabilityAdminMixin, CappedListAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Ops look, never decide: deciding is the approvers' job, on the desk."""

    capability = Capability.OPS_ADMIN_VIEW


class AttachmentOpsInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = ExemptionAttachment
    fields = ("level", "content_type", "uploaded_by", "uploaded_at")
    show_change_link = False


class DecisionOpsInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = Decision
    fk_name = "exemption"
    fields = ("level", "approved", "comment_scrubbed", "decided_by", "decided_at")

    @admin.display(description=_("comment"))
    def comment_scrubbed(self, obj):
        return mask_numbers_in_text(obj.comment)


@admin.register(ExemptionRequest)
class ExemptionRequestOpsAdmin(OpsReadOnlyAdmin):
    list_display = (
        "reference",
        "enterprise",
        "status",
        "rules_text",
        "required_levels",
        "submitted_by",
        "submitted_at",
    )
    list_filter = ("status", LevelFilter, RuleFilter)
    search_fields = ("enterprise__name",)
    fields = (
        "reference",
        "enterprise",
        "status",
        "rules_text",
        "required_levels",
        "reason_scrubbed",
        "card_list",
        "submitted_by",
        "submitted_at",
        "created_at",
    )
    readonly_fields = fields
    inlines = [AttachmentOpsInline, DecisionOpsInline]

    def get_queryset(self, request):
        return scoped(super().get_queryset(request), request.user, path="enterprise__").select_related(
            "enterprise", "submitted_by"
        )

    @admin.display(description=_("request"))
    def reference(self, obj):
        return _ref(obj)

    @admin.display(description=_("rules that fired"))
    def rules_text(self, obj):
        return rule_tags(obj.rules)

    @admin.display(description=_("reason"))
    def reason_scrubbed(self, obj):
        return mask_numbers_in_text(obj.reason)

    @admin.display(description=_("cards"))
    def card_list(self, obj):
        iccids = list(obj.cards.order_by("iccid").values_list("iccid", flat=True)[:200])
        return format_html("{}", ", ".join(iccids))


@admin.register(Decision)
class DecisionOpsAdmin(OpsReadOnlyAdmin):
    list_display = ("subject", "level", "approved", "decided_by", "decided_at")
    list_filter = ("level", "approved")
    fields = ("subject", "level", "approved", "comment_scrubbed", "decided_by", "decided_at")
    readonly_fields = fields

    @admin.display(description=_("request"))
    def subject(self, obj):
        if obj.exemption_id:
            return _("Exemption %(ref)s") % {"ref": _ref(obj.exemption)}
        return _("Change request %(ref)s") % {"ref": _ref(obj.change_request)}

    @admin.display(description=_("comment"))
    def comment_scrubbed(self, obj):
        return mask_numbers_in_text(obj.comment)


__all__ = ["approvals_site", "ApprovalsAdminSite"]
