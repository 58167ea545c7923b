"""Forms of the approval pages and the approval desk. Shape only: approvals.services decides.

Field names match the `field` of the services' DomainErrors (cards, reason,
attachment_province, attachment_group, comment), so a refusal lands next to
the right input (core.forms.add_domain_error).
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.permissions import Capability
from approvals import services
from approvals.models import ApprovalLevel
from cards.inventory.picker import PickerPurpose
from cards.models import LIVE_CARD_STATUSES, CardStatus
from core.forms import KeepsUploadsMixin
from enterprises.forms import IMAGE_OR_PDF_ATTRS, MultipleFileField


def exemption_candidates(queryset, context=None):
    """The cards an exemption can be filed for: live, needing their user's real-name, not yet active."""
    return queryset.filter(status__in=LIVE_CARD_STATUSES, realname_required=True).exclude(status=CardStatus.ACTIVE)


EXEMPTION_PICKER = PickerPurpose(
    capability=Capability.EXEMPTIONS_FILE, limit=services.MAX_CARDS_PER_REQUEST, eligible=exemption_candidates
)


class ExemptionFileForm(KeepsUploadsMixin, forms.Form):
    cards = forms.MultipleChoiceField(
        label=_("Cards to exempt"),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one card.")},
    )
    reason = forms.CharField(
        label=_("Why the card users cannot be registered"),
        max_length=services.MAX_REASON_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    attachment_province = MultipleFileField(
        label=_("Provincial approval form (省内审批单)"),
        max_files=services.MAX_FILES_PER_LEVEL,
        attrs=IMAGE_OR_PDF_ATTRS,
        help_text=_("Needed when a card falls under U1 (non-directed data). An image or a PDF."),
    )
    attachment_group = MultipleFileField(
        label=_("Group approval form (集团审批单)"),
        max_files=services.MAX_FILES_PER_LEVEL,
        attrs=IMAGE_OR_PDF_ATTRS,
        help_text=_("Needed when a card falls under U3 (149 number with directed voice or SMS). An image or a PDF."),
    )

    def __init__(self, *args, card_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cards"].choices = list(card_choices)

    def attachments(self) -> dict:
        return {
            ApprovalLevel.PROVINCE: self.cleaned_data.get("attachment_province") or [],
            ApprovalLevel.GROUP: self.cleaned_data.get("attachment_group") or [],
        }


class DecisionForm(forms.Form):
    """Approve or reject (the button pressed), with a comment; a rejection needs one."""

    DECISIONS = (("approve", _("Approve")), ("reject", _("Reject")))

    decision = forms.ChoiceField(choices=DECISIONS, widget=forms.HiddenInput)
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=services.MAX_COMMENT_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required when you reject: say why."),
    )

    @property
    def approve(self) -> bool:
        return self.cleaned_data.get("decision") == "approve"

    def clean(self):
        data = super().clean()
        if data.get("decision") == "reject" and not (data.get("comment") or "").strip():
            self.add_error(
                "comment", forms.ValidationError(_("Say why: a rejection needs a comment."), code="comment_required")
            )
        return data


class BulkDecisionForm(forms.Form):
    """The intermediate page of the desk's bulk actions."""

    comment = forms.CharField(
        label=_("Comment for every selected item"),
        required=False,
        max_length=services.MAX_COMMENT_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )

    def __init__(self, *args, require_comment: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.require_comment = require_comment
        if require_comment:
            self.fields["comment"].required = True
            self.fields["comment"].help_text = _("A rejection needs a comment: say why.")
