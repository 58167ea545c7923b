"""The card list's filter form. It checks shapes; the rules are enforced by cards.inventory.services.

Its widgets write their HTML directly (core.widgets): the form is drawn on every request of the list."""

from __future__ import annotations

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from accounts.models import Province
from accounts.permissions import Capability, Scope, scope_of
from cards.inventory import selectors
from cards.inventory.selectors import cards_covered_realname, cards_lacking_realname
from cards.models import CardStatus, Package
from core.errors import ValidationFailed
from core.search import digits_prefix
from core.widgets import DirectSelect, DirectTextInput
from enterprises.autocomplete import EnterpriseField
from enterprises.selectors import enterprises_to_pick

REALNAME_FILTER_CHOICES = [
    ("", _("Any")),
    ("yes", _("Needs user real-name")),
    ("no", _("Does not need user real-name")),
    ("missing", _("Needs user real-name and lacks it")),
    ("covered", _("Needs user real-name and has it (or an exemption)")),
]


class CardFilterForm(forms.Form):
    q = forms.CharField(
        label=_("ICCID or number"),
        help_text=_("A whole ICCID or number finds that card; fewer digits find the cards that start with them."),
        required=False,
        max_length=24,
        widget=DirectTextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "type": "search"}),
    )
    iccid = forms.CharField(
        label=_("ICCID starts with"),
        required=False,
        max_length=20,
        validators=[RegexValidator(r"^\d*$", _("Enter digits only."), code="invalid_iccid_prefix")],
        widget=DirectTextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("All statuses")), *CardStatus.choices],
        widget=DirectSelect,
    )
    package = forms.ModelChoiceField(
        label=_("Package"),
        required=False,
        queryset=Package.objects.all(),
        to_field_name="code",
        empty_label=_("All packages"),
        widget=DirectSelect,
    )
    realname = forms.ChoiceField(
        label=_("User real-name"), required=False, choices=REALNAME_FILTER_CHOICES, widget=DirectSelect
    )
    # A text box over the name index, not a <select> of every enterprise in scope (issue 12 §1.2).
    enterprise = EnterpriseField(label=_("Enterprise"), required=False)

    # The dashboards' "by province" bars link here; only a role that sees several provinces gets the field.
    province = forms.ModelChoiceField(
        label=_("Province"),
        required=False,
        queryset=Province.objects.all(),
        to_field_name="code",
        empty_label=_("All provinces"),
        widget=DirectSelect,
    )

    def __init__(self, *args, user, single_enterprise: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if scope_of(user, Capability.VIEW) != Scope.NATIONWIDE:
            del self.fields["province"]
        if single_enterprise:
            del self.fields["enterprise"]
        else:
            field = self.fields["enterprise"]
            assert isinstance(field, EnterpriseField)  # self.fields holds any Field
            field.queryset = enterprises_to_pick(user).select_related(None)

    def clean_q(self):
        try:
            return selectors.normalise_card_search(self.cleaned_data.get("q"))
        except ValidationFailed as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from exc

    def apply(self, queryset):
        data = self.cleaned_data
        if data.get("q"):
            queryset = selectors.search_cards(queryset, data["q"])
        if data.get("enterprise"):
            queryset = queryset.filter(enterprise_id=data["enterprise"].pk)
        if data.get("province"):
            # The card's own copy of its enterprise's province (Card.province): no join for the filter.
            queryset = queryset.filter(province_id=data["province"].pk)
        if data.get("status"):
            queryset = queryset.filter(status=data["status"])
        if data.get("package"):
            queryset = queryset.filter(package_id=data["package"].pk)
        if data.get("iccid"):
            queryset = queryset.filter(digits_prefix("iccid", data["iccid"]))
        if data.get("realname") in ("yes", "no"):
            queryset = queryset.filter(realname_required=data["realname"] == "yes")
        elif data.get("realname") == "missing":
            queryset = cards_lacking_realname(queryset)
        elif data.get("realname") == "covered":
            queryset = cards_covered_realname(queryset)
        return queryset
