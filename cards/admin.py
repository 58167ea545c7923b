"""Django admin for ops: the package catalogue (editable, through cards.inventory.packages: a test package
has a test period of at most 180 days and fixed services, U4); cards, card users, orders, handlers
and imports (read-only, masked).

Cards change only through cards.inventory.services (the rules U0-U6 guard every
transition), so cards, their history, card users and bindings are view-only
here, for superusers too. Card users show a masked ID number; the encrypted
number, its blind index and the photos are never in a list or a form (an
allow-list of fields). The card list stays fast with millions of rows: no full
COUNT(*), a capped count (core.pagination), fixed filter choices rather than a
DISTINCT over the table, and search by ICCID or MSISDN, whole or by prefix, on
their indexes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.admin import ReadOnlyAdminMixin, ReadOnlyInlineMixin
from cards.inventory.packages import PACKAGE_FIELDS, package_check_in_use, package_create, package_update
from cards.inventory.selectors import search_cards
from cards.inventory.serializers import EVENT_LABELS
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
from core.errors import DomainError, ValidationFailed
from core.forms import add_domain_error
from core.identity import mask_address, mask_name
from core.pagination import CappedListAdminMixin
from enterprises.admin import CardSandboxFilter, SandboxFilter

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class IccidSearchMixin:
    """Search by ICCID or MSISDN as the portal's card search does (cards.inventory.selectors.search_cards):
    a whole one matches exactly, fewer digits match its start, each on its own index."""

    search_help_text: ClassVar[StrOrPromise | None] = _("An ICCID or MSISDN, or their first digits.")
    # The path from the listed model to its card ("card" for a card's rows); empty for the cards themselves.
    card_path = ""

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            # No search: the list as it is, not joined to "every card" (a semi-join the count paid for).
            return queryset, False
        try:
            if not self.card_path:
                return search_cards(queryset, search_term), False
            return queryset.filter(**{f"{self.card_path}__in": search_cards(Card.objects.all(), search_term)}), False
        except ValidationFailed:  # not digits, or longer than an ICCID: no card has it
            return queryset.none(), False


class CardEventActionFilter(admin.SimpleListFilter):
    """The actions a card's history knows (a fixed list), not a DISTINCT over every event ever written."""

    title = _("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return [(action, label) for action, label in EVENT_LABELS.items()]

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


# The reasons cards.inventory.services._end_bindings writes.
BINDING_END_REASONS = {
    "card_cancelled": _("the card was cancelled"),
    "ownership_transfer": _("the card changed owner"),
}


class BindingEndReasonFilter(admin.SimpleListFilter):
    """Why a binding ended, from the fixed list, not a DISTINCT over every binding ever written."""

    title = _("why it ended")
    parameter_name = "end_reason"

    def lookups(self, request, model_admin):
        return list(BINDING_END_REASONS.items())

    def queryset(self, request, queryset):
        return queryset.filter(end_reason=self.value()) if self.value() else queryset


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
class CardAdmin(IccidSearchMixin, CappedListAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("iccid", "msisdn", "enterprise", "package", "status", "realname_required", "realname_rules")
    list_filter = (SandboxFilter, "status", "realname_required", "package")
    list_select_related = ("enterprise", "package")
    ordering = ("iccid",)
    search_fields = ("iccid", "msisdn")
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
class CardEventAdmin(IccidSearchMixin, CappedListAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    card_path = "card"
    list_display = ("at", "card", "action", "from_status", "to_status", "actor")
    list_filter = (CardSandboxFilter, CardEventActionFilter)
    list_select_related = ("card", "actor")
    # The model's ordering, on its index (cardevent_at_desc); a tiebreak on id keeps pages stable.
    ordering = ("-at", "-id")
    search_fields = ("card__iccid", "card__msisdn")
    fields = ("card", "at", "actor", "action", "from_status", "to_status", "order", "data")
    readonly_fields = fields


class BindingInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = CardBinding
    fields = ("card", "bound_at", "ended_at", "end_reason")


@admin.register(CardUser)
class CardUserAdmin(CappedListAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
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
    # Its keyset order, on the index card_user_created (core.pagination).
    ordering = ("-created_at", "-id")
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
class CardBindingAdmin(IccidSearchMixin, CappedListAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    card_path = "card"
    list_display = ("card", "masked_card_user", "masked_id_number", "bound_at", "ended_at", "end_reason")
    list_filter = (CardSandboxFilter, BindingEndReasonFilter)
    list_select_related = ("card", "card_user")
    search_fields = ("card__iccid", "card__msisdn")
    # Newest first by key, on the primary key's index: bound_at is the insert time, so the two orders agree
    # and the keyset (core.pagination) needs no index of its own.
    ordering = ("-id",)
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
class OrderAdmin(CappedListAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
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
    # A date filter of fixed ranges, not a date hierarchy: its links are a DISTINCT over every order.
    list_filter = (SandboxFilter, "business_type", "status", "created_at")
    list_select_related = ("enterprise", "handler")
    search_fields = ("number",)
    # Its keyset order, on the index order_created (core.pagination).
    ordering = ("-created_at", "-id")
    search_help_text = _("The order number.")
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
class HandlerAdmin(CappedListAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
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
class CardImportAdmin(CappedListAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
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
