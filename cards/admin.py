"""Django admin for ops: the package catalogue (editable, through cards.inventory.packages: a test package
has a test period of at most 180 days and fixed services, U4); cards, card users, orders, handlers
and imports (read-only, masked).

Cards change only through cards.inventory.services (the rules U0-U6 guard every
transition), so cards, their history, card users and bindings are view-only
here, for superusers too. Card users show a masked ID number; the encrypted
number, its blind index and the photos are never in a list or a form (an
allow-list of fields). The card list stays fast with millions of rows: no full
COUNT(*), a capped count, and search by ICCID prefix on its index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from django import forms
from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from accounts.admin import ReadOnlyAdminMixin, ReadOnlyInlineMixin
from cards.inventory.packages import PACKAGE_FIELDS, package_check_in_use, package_create, package_update
from cards.models import (
    TEST_PERIOD_MAX_DAYS,
    Card,
    CardBinding,
    CardEvent,
    CardImport,
    CardUser,
    Handler,
    Order,
    OrderCard,
    Package,
)
from core.errors import DomainError
from core.forms import add_domain_error
from core.identity import mask_address, mask_name
from enterprises.admin import CardSandboxFilter, SandboxFilter

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

ADMIN_COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    @cached_property
    def count(self) -> int:
        # The stubs allow any sequence; the admin's changelists paginate querysets.
        return cast(QuerySet, self.object_list)[: ADMIN_COUNT_CAP + 1].count()


class IccidSearchMixin:
    """Search by ICCID: digits match as a prefix (which covers the exact ICCID), on the pattern index."""

    search_help_text: ClassVar[StrOrPromise | None] = _("An ICCID, or its first digits.")
    iccid_lookup = "iccid"

    def get_search_results(self, request, queryset, search_term):
        term = "".join((search_term or "").split())
        if not term:
            return queryset, False
        if not term.isdigit() or len(term) > 20:
            return queryset.none(), False
        return queryset.filter(**{f"{self.iccid_lookup}__startswith": term}), False


class PackageAdminForm(forms.ModelForm):
    """Model validation bounds the test period (1-180 days) and asks a test package for its services;
    cards.inventory.packages refuses a change of what the cards on the package took from it (U4)."""

    class Meta:
        model = Package
        fields = PACKAGE_FIELDS
        widgets = {"test_period_days": forms.NumberInput(attrs={"min": 1, "max": TEST_PERIOD_MAX_DAYS})}

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is not None:
            try:
                package_check_in_use(
                    package=Package.objects.get(pk=self.instance.pk),
                    values={k: v for k, v in cleaned.items() if k in self.fields},
                )
            except DomainError as exc:
                add_domain_error(self, exc)
        return cleaned


@admin.register(Package)
class PackageAdmin(admin.ModelAdmin):
    form = PackageAdminForm
    list_display = ("code", "name", "is_test_package", "test_period_days", "is_active")
    list_filter = ("is_test_package", "is_active")
    search_fields = ("code", "name")
    fieldsets = (
        (None, {"fields": ("code", "name", "is_active")}),
        (
            _("IoT test-card package (rule U4)"),
            {
                "fields": ("is_test_package", "test_period_days", "data_service", "voice_service", "sms_service"),
                "description": _(
                    "A test package is a trial: its cards need no user real-name, have the services set here and "
                    "are suspended when the test period ends, unless they moved to a commercial package. Only "
                    "cards in stock that were never active nor on a commercial package go onto it."
                ),
            },
        ),
    )

    def get_readonly_fields(self, request, obj=None):
        # Imports and orders name packages by code. The kind and services are refused in the form
        # with a reason (cards.inventory.packages), rather than hidden.
        if obj is not None and obj.cards.exists():
            return ("code",)
        return ()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        values = {field: form.cleaned_data[field] for field in PACKAGE_FIELDS if field in form.cleaned_data}
        if change:
            saved = package_update(actor=request.user, package=obj, **values)
        else:
            saved = package_create(actor=request.user, **values)
        # The admin goes on with `obj` (its log entry and redirect).
        obj.pk = saved.pk
        obj._state.adding = False
        obj._state.db = saved._state.db


@admin.register(Card)
class CardAdmin(IccidSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("iccid", "msisdn", "enterprise", "package", "status", "realname_required", "realname_rules")
    list_filter = (SandboxFilter, "status", "realname_required", "package")
    list_select_related = ("enterprise", "package")
    ordering = ("iccid",)
    search_fields = ("iccid",)
    show_full_result_count = False
    paginator = CappedCountPaginator
    list_per_page = 50
    fields = (
        "iccid",
        "msisdn",
        "imsi",
        "enterprise",
        "package",
        "data_service",
        "voice_service",
        "sms_service",
        "status",
        "realname_required",
        "realname_rules",
        "exemption_needed",
        "first_activated_at",
        "has_been_commercial",
        "test_period_started_at",
        "test_period_ends_at",
        "import_job",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields


@admin.register(CardEvent)
class CardEventAdmin(IccidSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    iccid_lookup = "card__iccid"
    list_display = ("at", "card", "action", "from_status", "to_status", "actor")
    list_filter = (CardSandboxFilter, "action")
    list_select_related = ("card", "actor")
    search_fields = ("card__iccid",)
    show_full_result_count = False
    paginator = CappedCountPaginator
    fields = ("card", "at", "actor", "action", "from_status", "to_status", "order", "data")
    readonly_fields = fields


class BindingInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = CardBinding
    fields = ("card", "bound_at", "ended_at", "end_reason")


@admin.register(CardUser)
class CardUserAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "masked_name",
        "masked_id_number",
        "id_type",
        "enterprise",
        "channel",
        "registration_status",
        "created_at",
    )
    list_filter = (SandboxFilter, "registration_status", "id_type", "channel")
    list_select_related = ("enterprise",)
    search_fields = ("enterprise__name",)
    # No id_number, no blind index, no photos: the photos are served only by the permission-checking view.
    fields = (
        "public_id",
        "masked_name",
        "id_type",
        "masked_id_number",
        "enterprise",
        "channel",
        "registration_status",
        "biometric_consent_at",
        "created_by",
        "created_at",
    )
    readonly_fields = fields
    inlines = [BindingInline]

    @admin.display(description=_("ID number"))
    def masked_id_number(self, card_user: CardUser) -> str:
        return card_user.id_number_masked

    @admin.display(description=_("name"))
    def masked_name(self, card_user: CardUser) -> str:
        return mask_name(card_user.name)


@admin.register(CardBinding)
class CardBindingAdmin(IccidSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    iccid_lookup = "card__iccid"
    list_display = ("card", "masked_card_user", "masked_id_number", "bound_at", "ended_at", "end_reason")
    list_filter = (CardSandboxFilter, "end_reason")
    list_select_related = ("card", "card_user")
    search_fields = ("card__iccid",)
    fields = ("card", "masked_card_user", "masked_id_number", "bound_at", "ended_at", "end_reason")
    readonly_fields = fields

    @admin.display(description=_("ID number"))
    def masked_id_number(self, binding: CardBinding) -> str:
        return binding.card_user.id_number_masked

    @admin.display(description=_("card user"))
    def masked_card_user(self, binding: CardBinding) -> str:
        return mask_name(binding.card_user.name)


# --- orders, handlers, imports ------------------------------------------------------------


class OrderCardInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = OrderCard
    fields = ("card", "previous_iccid", "new_iccid", "outcome")


@admin.register(Order)
class OrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "number",
        "enterprise",
        "business_type",
        "status",
        "masked_handler",
        "masked_handler_id_number",
        "created_at",
        "completed_at",
    )
    list_filter = (SandboxFilter, "business_type", "status")
    list_select_related = ("enterprise", "handler")
    search_fields = ("number",)
    search_help_text = _("The order number.")
    date_hierarchy = "created_at"
    # No photos: they are served only by the permission-checking order view, and logged.
    fields = (
        "number",
        "enterprise",
        "business_type",
        "status",
        "masked_handler",
        "masked_handler_id_number",
        "parameters",
        "rejection_reason",
        "created_by",
        "created_at",
        "completed_at",
    )
    readonly_fields = fields
    inlines = [OrderCardInline]

    @admin.display(description=_("handler's ID number"))
    def masked_handler_id_number(self, order: Order) -> str:
        return order.handler.id_number_masked

    @admin.display(description=_("handler"))
    def masked_handler(self, order: Order) -> str:
        return mask_name(order.handler.name)


@admin.register(Handler)
class HandlerAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("masked_name", "masked_id_number", "id_type", "enterprise", "created_at")
    list_filter = (SandboxFilter, "id_type")
    list_select_related = ("enterprise",)
    search_fields = ("enterprise__name",)
    fields = (
        "masked_name",
        "id_type",
        "masked_id_number",
        "masked_id_address",
        "enterprise",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    @admin.display(description=_("ID number"))
    def masked_id_number(self, handler: Handler) -> str:
        return handler.id_number_masked

    @admin.display(description=_("name"))
    def masked_name(self, handler: Handler) -> str:
        return mask_name(handler.name)

    @admin.display(description=_("ID address"))
    def masked_id_address(self, handler: Handler) -> str:
        return mask_address(handler.id_address)


@admin.register(CardImport)
class CardImportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "enterprise", "status", "total_rows", "imported_rows", "error_count", "created_by")
    list_filter = (SandboxFilter, "status", "file_format")
    list_select_related = ("enterprise", "created_by")
    search_fields = ("enterprise__name",)
    fields = (
        "public_id",
        "enterprise",
        "file_format",
        "status",
        "total_rows",
        "processed_rows",
        "imported_rows",
        "error_count",
        "failure_message",
        "created_by",
        "created_at",
        "finished_at",
    )
    readonly_fields = fields
