"""Forms of the enterprise pages.

Forms check only the shape of the input (required text, lengths, choices,
how many files). The services are the authority on the rules: ID and
credential numbers per type, file types and sizes, P1's authorisation
letter. Field names match the `field` of the services' DomainErrors, so a
refusal lands next to the right input (core.forms.add_domain_error).
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.roles import Role
from core.forms import KeepsUploadsMixin
from core.identity import CredentialType, PersonalIdType
from enterprises.models import ChangeTarget, EnterpriseStatus, UnitKind
from enterprises.selectors import unit_kinds_offered
from enterprises.services import EnterpriseData, ResponsiblePersonData

MAX_FILES_PER_FIELD = 10

# File inputs: ID photos open the camera on phones and tablets; inputs that
# may take a scanned letter accept PDF too and leave the choice to the user.
CAMERA_IMAGE_ATTRS = {"accept": "image/*", "capture": "environment"}
IMAGE_OR_PDF_ATTRS = {"accept": "image/*,application/pdf"}

# Number inputs: no autocomplete, no spelling help, no autocorrection.
NUMBER_ATTRS = {"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters", "autocorrect": "off"}


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A file input that takes several files and cleans to a list (possibly empty)."""

    default_error_messages = {"too_many": _("Choose at most %(max)d files.")}

    def __init__(self, *args, max_files: int = MAX_FILES_PER_FIELD, attrs: dict | None = None, **kwargs):
        self.max_files = max_files
        kwargs.setdefault("widget", MultipleFileInput(attrs=attrs or {}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        items = data if isinstance(data, (list, tuple)) else [data]
        items = [item for item in items if item]
        if not items:
            if self.required:
                raise forms.ValidationError(self.error_messages["required"], code="required")
            return []
        if len(items) > self.max_files:
            raise forms.ValidationError(
                self.error_messages["too_many"], code="too_many", params={"max": self.max_files}
            )
        single_clean = super().clean
        return [single_clean(item, initial) for item in items]


def _number_field(label, help_text="") -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=64,
        required=False,
        strip=True,
        help_text=help_text,
        widget=forms.TextInput(attrs=NUMBER_ATTRS),
    )


# --- real-name data ----------------------------------------------------------


class UnitKindChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: UnitKind) -> str:
        return obj.label


class EnterpriseRealNameForm(forms.Form):
    """E1: the enterprise's real-name data."""

    name = forms.CharField(label=_("Unit name"), max_length=200)
    unit_kind = UnitKindChoiceField(
        label=_("Kind of unit"),
        queryset=UnitKind.objects.none(),
        to_field_name="code",
        empty_label=None,
        # The select always sends a kind; a post without one gets the service's answer (the credential
        # type implies the kind, the letter path needs it named).
        required=False,
        widget=forms.Select(attrs={"data-unit-kind": ""}),
    )
    credential_type = forms.ChoiceField(
        label=_("Credential type"),
        choices=CredentialType.choices,
        initial=CredentialType.BUSINESS_LICENCE,
        widget=forms.Select(attrs={"data-credential-type": ""}),
        help_text=_(
            "The unit introduction letter or official letter with seal is offered only to units that cannot "
            "hold a credential: %(kinds)s."
        ),
    )
    credential_number = _number_field(
        _("Credential number"),
        _("The unified social credit code or the certificate number. Not needed for an official letter."),
    )
    credential_address = forms.CharField(label=_("Credential address"), max_length=255)

    def __init__(self, *args, current_kind: UnitKind | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        offered = unit_kinds_offered()
        if current_kind is not None:
            # A change request may keep a kind ops have retired since.
            offered = UnitKind.objects.filter(pk__in=offered.values("pk")) | UnitKind.objects.filter(pk=current_kind.pk)
        kinds = list(offered.order_by("sort_order", "code"))
        field = self.fields["unit_kind"]
        assert isinstance(field, forms.ModelChoiceField)  # self.fields holds any Field
        field.queryset = offered.order_by("sort_order", "code")
        field.initial = current_kind.code if current_kind is not None else "enterprise"
        letter_kinds = [kind for kind in kinds if kind.cannot_hold_credential]
        # portal.js offers the official_letter choice only with these kinds; the service decides.
        field.widget.attrs["data-letter-kinds"] = " ".join(sorted(kind.code for kind in letter_kinds))
        credential_type = self.fields["credential_type"]
        credential_type.help_text = credential_type.help_text % {"kinds": "、".join(k.label for k in letter_kinds)}

    def enterprise_values(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "unit_kind": data["unit_kind"].code if data.get("unit_kind") else "",
            "credential_type": data["credential_type"],
            "credential_number": data.get("credential_number", ""),
            "credential_address": data["credential_address"],
        }


class ResponsiblePersonRealNameForm(forms.Form):
    """P1, P2: the responsible person's real-name data."""

    responsible_name = forms.CharField(label=_("Responsible person's name"), max_length=100)
    responsible_id_type = forms.ChoiceField(
        label=_("ID type"), choices=PersonalIdType.choices, initial=PersonalIdType.RESIDENT_ID
    )
    responsible_id_number = _number_field(_("ID number"))
    responsible_id_address = forms.CharField(label=_("ID address"), max_length=255)
    responsible_is_legal_representative = forms.BooleanField(
        label=_("The responsible person is the legal representative"),
        required=False,
        initial=True,
        widget=forms.CheckboxInput(attrs={"data-legal-representative": ""}),
        help_text=_("If not, the unit's responsible-person authorisation letter is required."),
    )

    def responsible_values(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["responsible_name"],
            "id_type": data["responsible_id_type"],
            "id_number": data.get("responsible_id_number", ""),
            "id_address": data["responsible_id_address"],
            "is_legal_representative": bool(data.get("responsible_is_legal_representative")),
        }


def _authorisation_letter_field() -> MultipleFileField:
    return MultipleFileField(
        label=_("Responsible-person authorisation letter"),
        attrs=IMAGE_OR_PDF_ATTRS,
        help_text=_("Required when the responsible person is not the legal representative. Image or PDF."),
    )


def _business_reference_field() -> forms.CharField:
    return forms.CharField(
        label=_("Business reference"),
        max_length=64,
        required=False,
        help_text=_("Optional, for example the order number this is for."),
    )


class EnterpriseRegisterForm(KeepsUploadsMixin, EnterpriseRealNameForm, ResponsiblePersonRealNameForm):
    """E1 + P1 + P2 in one form."""

    credential_files = MultipleFileField(
        label=_("Photo of the original credential, or the official letter"),
        attrs=IMAGE_OR_PDF_ATTRS,
        help_text=_(
            "A photo of the original credential. Party and government organs and the military upload the unit "
            "introduction letter or official letter with the official seal instead (image or PDF)."
        ),
    )
    responsible_id_files = MultipleFileField(
        label=_("Photo of the responsible person's ID"),
        attrs=CAMERA_IMAGE_ATTRS,
        help_text=_("Front and back of the original ID. On a phone or tablet this opens the camera."),
    )
    authorisation_letter_files = _authorisation_letter_field()
    business_reference = _business_reference_field()

    field_order = [
        "name",
        "unit_kind",
        "credential_type",
        "credential_number",
        "credential_address",
        "credential_files",
        "responsible_name",
        "responsible_id_type",
        "responsible_id_number",
        "responsible_id_address",
        "responsible_is_legal_representative",
        "responsible_id_files",
        "authorisation_letter_files",
        "business_reference",
    ]

    def enterprise_data(self) -> EnterpriseData:
        return EnterpriseData(**self.enterprise_values())

    def responsible_data(self) -> ResponsiblePersonData:
        return ResponsiblePersonData(**self.responsible_values())


class EnterpriseChangeRequestForm(KeepsUploadsMixin, EnterpriseRealNameForm):
    """E3: new enterprise real-name data with the new credential."""

    target = ChangeTarget.ENTERPRISE

    files = MultipleFileField(  # type: ignore[assignment]  # a field: the metaclass lifts it off the class
        label=_("The new credential"),
        attrs=IMAGE_OR_PDF_ATTRS,
        help_text=_("A photo of the new original credential, or the new official letter (image or PDF)."),
    )
    reason = forms.CharField(
        label=_("Reason for the change"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, enterprise=None, **kwargs):
        super().__init__(*args, current_kind=getattr(enterprise, "unit_kind", None), **kwargs)
        self.fields["credential_number"].help_text = _(
            "Type the number again, even if it does not change: it is never filled in for you. "
            "Leave it empty for an official letter."
        )

    def values(self) -> dict:
        return self.enterprise_values()

    def authorisation_letters(self) -> list:
        return []


class ResponsibleChangeRequestForm(KeepsUploadsMixin, ResponsiblePersonRealNameForm):
    """P4: new responsible-person real-name data with the new ID photo."""

    target = ChangeTarget.RESPONSIBLE_PERSON

    files = MultipleFileField(  # type: ignore[assignment]  # a field: the metaclass lifts it off the class
        label=_("Photo of the new responsible person's ID"),
        attrs=CAMERA_IMAGE_ATTRS,
        help_text=_("Front and back of the original ID. On a phone or tablet this opens the camera."),
    )
    authorisation_letter_files = _authorisation_letter_field()
    reason = forms.CharField(
        label=_("Reason for the change"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, enterprise=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["responsible_id_number"].help_text = _(
            "Type the number again, even if it does not change: it is never filled in for you."
        )

    def values(self) -> dict:
        return self.responsible_values()

    def authorisation_letters(self) -> list:
        return self.cleaned_data.get("authorisation_letter_files", [])


CHANGE_REQUEST_FORMS = {
    ChangeTarget.ENTERPRISE: EnterpriseChangeRequestForm,
    ChangeTarget.RESPONSIBLE_PERSON: ResponsibleChangeRequestForm,
}


def change_request_initial(enterprise, target: str) -> dict:
    """The current values to start from; never an ID or credential number."""
    if target == ChangeTarget.ENTERPRISE:
        return {
            "name": enterprise.name,
            "unit_kind": enterprise.unit_kind.code,
            "credential_type": enterprise.credential_type,
            "credential_address": enterprise.credential_address,
        }
    person = getattr(enterprise, "responsible_person", None)
    if person is None:
        return {}
    return {
        "responsible_name": person.name,
        "responsible_id_type": person.id_type,
        "responsible_id_address": person.id_address,
        "responsible_is_legal_representative": person.is_legal_representative,
    }


# --- later business, editing, search -----------------------------------------


class DocumentUploadForm(KeepsUploadsMixin, forms.Form):
    """E2, P3: fresh photos only, nothing is re-entered."""

    credential_files = MultipleFileField(label=_("Fresh photo of the original credential"))
    responsible_id_files = MultipleFileField(
        label=_("Fresh photo of the responsible person's ID"),
        attrs=CAMERA_IMAGE_ATTRS,
        help_text=_("On a phone or tablet this opens the camera."),
    )
    authorisation_letter_files = MultipleFileField(
        label=_("Responsible-person authorisation letter (optional)"), attrs=IMAGE_OR_PDF_ATTRS
    )
    business_reference = _business_reference_field()

    def __init__(self, *args, enterprise, **kwargs):
        super().__init__(*args, **kwargs)
        credential = self.fields["credential_files"]
        if enterprise.requires_number:
            credential.widget.attrs.update(CAMERA_IMAGE_ATTRS)
            credential.help_text = _("On a phone or tablet this opens the camera.")
        else:
            credential.label = _("Fresh unit introduction letter or official letter with seal")
            credential.widget.attrs.update(IMAGE_OR_PDF_ATTRS)
            credential.help_text = _("Image or PDF.")


class EnterpriseEditForm(forms.Form):
    """What may be edited outside the real-name record."""

    account_manager = forms.ModelChoiceField(
        label=_("Managing account manager"), queryset=User.objects.none(), empty_label=None
    )
    notes = forms.CharField(label=_("Notes"), max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 5}))

    def __init__(self, *args, enterprise, **kwargs):
        kwargs.setdefault("initial", {"account_manager": enterprise.account_manager_id, "notes": enterprise.notes})
        super().__init__(*args, **kwargs)
        self.fields["account_manager"].queryset = User.objects.filter(
            role=Role.ACCOUNT_MANAGER, province_id=enterprise.province_id, is_active=True
        ).order_by("full_name", "username")


class CredentialNumberForm(forms.Form):
    """A credential number to look up. Always sent by POST, never in a URL."""

    credential_number = forms.CharField(
        label=_("Credential number"), max_length=64, widget=forms.TextInput(attrs=NUMBER_ATTRS)
    )


class ReturningCustomerForm(forms.Form):
    """E2: a returning customer by its credential number or, for a letter unit, by its name (POST only)."""

    credential_number = forms.CharField(
        label=_("Credential number"), max_length=64, required=False, widget=forms.TextInput(attrs=NUMBER_ATTRS)
    )
    unit_name = forms.CharField(
        label=_("Or, for a unit registered with an official letter: its name"),
        max_length=200,
        required=False,
        help_text=_("Spaces and punctuation do not matter."),
    )

    def clean(self):
        data = super().clean()
        given = [name for name in ("credential_number", "unit_name") if data.get(name)]
        if len(given) != 1:
            raise forms.ValidationError(
                _("Enter the credential number, or the name of a unit registered with an official letter."),
                code="one_of",
            )
        return data


class EnterpriseSearchForm(forms.Form):
    """Search by name and filter by status (GET: holds no personal data)."""

    q = forms.CharField(label=_("Unit name contains"), max_length=200, required=False)
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("Any status")), *EnterpriseStatus.choices], required=False
    )
