"""Forms of the card-user pages. They check shapes; the rules are enforced by cards.card_users.services."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.permissions import Capability
from cards.inventory.picker import PickerPurpose, unbound_live
from cards.models import CardUser
from core.columns import max_length
from core.forms import KeepsUploadsMixin
from core.identity import PersonalIdType
from enterprises.autocomplete import EnterpriseField
from enterprises.selectors import enterprises_to_pick
from verification.capture import FramesField, clean_capture_or_photo

CONSENT_TEXT = _(
    "The card user explicitly consents to the processing of their biometric data: their live photo and the "
    "photo of their ID document are compared by face recognition to verify their identity for the real-name "
    "registration of the cards listed here. The photos are kept in private storage and shown only to staff "
    "whose role allows it."
)

_ICCID_SPLIT = re.compile(r"[\s,;，；]+")
MAX_CARDS = 50
# The counter's registration and the handover to the card user's phone pick from the same cards.
CARD_USER_PICKER = PickerPurpose(capability=Capability.CARD_USERS_REGISTER, limit=MAX_CARDS, eligible=unbound_live)


class NoEchoTextInput(forms.TextInput):
    """An ID number is not sent back into the page when the form is shown again with errors."""

    def format_value(self, value):
        return None


class PhotoInput(forms.ClearableFileInput):
    """A file input that opens the device camera on phones and tablets."""

    def __init__(self, *, capture: str):
        super().__init__(attrs={"accept": "image/*", "capture": capture})


class CardUserRegisterForm(KeepsUploadsMixin, forms.Form):
    enterprise = EnterpriseField(label=_("Enterprise"), by_credential=True)
    iccids = forms.CharField(
        label=_("Cards (ICCIDs)"),
        widget=forms.Textarea(attrs={"rows": 3, "inputmode": "numeric", "autocomplete": "off"}),
        help_text=_(
            "One or more ICCIDs of the enterprise's cards, separated by spaces or new lines. "
            "One ID may be the registered user of at most five live cards."
        ),
    )
    name = forms.CharField(label=_("Card user's name"), max_length=max_length(CardUser, "name"))
    id_type = forms.ChoiceField(label=_("ID type"), choices=PersonalIdType.choices)
    id_number = forms.CharField(
        label=_("ID number"),
        max_length=64,
        widget=NoEchoTextInput(attrs={"autocomplete": "off"}),
        help_text=_("For privacy the number is not kept when the form is shown again: enter it again."),
    )
    id_photo = forms.FileField(
        label=_("Photo of the ID document"),
        widget=PhotoInput(capture="environment"),
        help_text=_("Photograph the original ID with the back camera. JPEG, PNG or WebP."),
    )
    # The live capture (issue 9 §3): the head moves asked, filmed as frames; the one photo is the fallback.
    frames = FramesField(label=_("Live capture"), required=False)
    timestamps = forms.CharField(required=False, widget=forms.HiddenInput(attrs={"data-timestamps-input": ""}))
    challenge = forms.CharField(required=False, widget=forms.HiddenInput)
    live_photo = forms.FileField(
        label=_("Or one live photo of the card user"),
        widget=PhotoInput(capture="user"),
        required=False,
        help_text=_(
            "Only where the camera capture cannot be used: one photo does not prove that the card user is "
            "present, so a reviewer decides."
        ),
    )
    biometric_consent = forms.BooleanField(label=CONSENT_TEXT, required=True)
    # The label is the whole consent text; the error summary names it shortly.
    biometric_consent.summary_label = _("Consent to the biometric check")  # type: ignore[attr-defined]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        enterprise = self.fields["enterprise"]
        assert isinstance(enterprise, EnterpriseField)  # self.fields holds any Field
        enterprise.queryset = enterprises_to_pick(user)
        if not self.is_bound and not self.initial.get("enterprise"):
            self.initial["enterprise"] = enterprise.single_choice()
        self.fields["biometric_consent"].error_messages["required"] = _(
            "Face recognition needs the card user's explicit consent to process biometric data."
        )

    def clean(self):
        data = super().clean()
        clean_capture_or_photo(
            self,
            data,
            photo_field="live_photo",
            missing=_("Take the live capture (or, without a camera, one live photo)."),
        )
        return data

    def clean_iccids(self) -> list[str]:
        values = [v for v in _ICCID_SPLIT.split(self.cleaned_data["iccids"] or "") if v]
        values = list(dict.fromkeys(values))
        if not values:
            raise forms.ValidationError(_("Choose at least one card."), code="required")
        if len(values) > MAX_CARDS:
            raise forms.ValidationError(
                _("Register at most %(max)s cards at once.") % {"max": MAX_CARDS}, code="too_many"
            )
        bad = [v for v in values if not v.isdigit() or len(v) > 20]
        if bad:
            raise forms.ValidationError(_("An ICCID has 19 or 20 digits."), code="invalid_iccid")
        return values
