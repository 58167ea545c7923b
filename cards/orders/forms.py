"""Forms of the order wizard. They check the shape of the input; cards.orders checks the rules.

Field names match the `field` of the services' errors, so a refusal lands next
to the right input (core.forms.add_domain_error).
"""

from __future__ import annotations

from django import forms
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _

from accounts.permissions import Capability
from accounts.roles import Role
from cards.inventory.picker import PickerPurpose
from cards.models import (
    BUSINESS_CHOICES,
    BUSINESSES,
    LIVE_CARD_STATUSES,
    RESUME,
    SUSPEND,
    BusinessType,
    OrderCard,
    OrderStatus,
    Package,
    ServiceLevelChoices,
    is_face_gated,
)
from cards.orders.handlers import ADDRESS_MAX, NAME_MAX
from cards.orders.presentation import fresh_credential_message
from cards.orders.services import MSG_FRESH_RESPONSIBLE, ORDER_MAX_CARDS, parse_iccid_list
from core.forms import KeepsUploadsMixin
from core.identity import PersonalIdType
from core.widgets import DirectSelect, DirectTextInput
from enterprises.autocomplete import EnterpriseField
from enterprises.selectors import enterprises_to_pick
from verification.capture import FramesField, clean_capture_or_photo

NUMBER_ATTRS = {"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters", "autocorrect": "off"}
ID_PHOTO_ATTRS = {"accept": "image/*", "capture": "environment"}
LIVE_PHOTO_ATTRS = {"accept": "image/*", "capture": "user"}
IMAGE_OR_PDF_ATTRS = {"accept": "image/*,application/pdf"}

# The declared fields of the business parameters (cards.models.Business.parameters), in page order;
# new_iccids is one field per card.
SERVICE_FIELDS = ("data", "voice", "sms")
PARAMETER_FIELDS = ("target_enterprise", *SERVICE_FIELDS, "package", "action")


def order_picker_cards(queryset, context):
    """The cards the wizard's first step can take: in a state the chosen business allows (any live one
    before a business is chosen), and not in an order that waits for its handler's face comparison."""
    business = BUSINESSES.get(context.get("business_type") or "")
    statuses = business.card_statuses if business else LIVE_CARD_STATUSES
    waiting = OrderCard.objects.filter(card=OuterRef("pk"), order__status=OrderStatus.AWAITING_VERIFICATION)
    return queryset.filter(status__in=statuses).exclude(Exists(waiting))


ORDER_PICKER = PickerPurpose(capability=Capability.ORDERS_FILE, limit=ORDER_MAX_CARDS, eligible=order_picker_cards)


class NoEchoTextInput(forms.TextInput):
    """A text input that never writes its value back into the page (ID numbers)."""

    def format_value(self, value):
        return None


class OrderStartForm(forms.Form):
    """Step 1: what business, for which enterprise, on which cards."""

    business_type = forms.ChoiceField(label=_("Business type"), choices=BUSINESS_CHOICES)
    enterprise = EnterpriseField(label=_("Enterprise"), capability=Capability.ORDERS_FILE, by_credential=True)
    cards = forms.CharField(
        label=_("Cards (ICCIDs)"),
        max_length=32 * ORDER_MAX_CARDS,
        widget=forms.Textarea(attrs={"rows": 6, **NUMBER_ATTRS, "class": "mono"}),
        help_text=_("One ICCID per line, or separated by commas or spaces. The cards must belong to the enterprise."),
    )

    # Suspension / resumption: which one, when the card page's button said so (step 3 starts with it).
    action = forms.ChoiceField(
        choices=[("", ""), *((action, action) for action in BUSINESSES[BusinessType.SUSPEND_RESUME].actions)],
        required=False,
        widget=forms.HiddenInput,
    )

    def __init__(self, *args, enterprises, **kwargs):
        super().__init__(*args, **kwargs)
        enterprise = self.fields["enterprise"]
        assert isinstance(enterprise, EnterpriseField)  # self.fields holds any Field
        enterprise.queryset = enterprises
        if not self.is_bound and not self.initial.get("enterprise"):
            self.initial["enterprise"] = enterprise.single_choice()

    def clean_cards(self) -> list[str]:
        iccids = parse_iccid_list(self.cleaned_data["cards"])
        if not iccids:
            raise forms.ValidationError(_("Enter at least one ICCID."), code="required")
        if len(iccids) > ORDER_MAX_CARDS:
            raise forms.ValidationError(
                _("An order may list at most %(max)d cards."), code="too_many", params={"max": ORDER_MAX_CARDS}
            )
        return iccids


class HandlerLookupForm(forms.Form):
    """Step 2: the handler's ID document first; a returning handler is found by it (H1)."""

    handler_id_type = forms.ChoiceField(
        label=_("Handler's ID type"), choices=PersonalIdType.choices, initial=PersonalIdType.RESIDENT_ID
    )
    handler_id_number = forms.CharField(
        label=_("Handler's ID number"),
        max_length=64,
        widget=NoEchoTextInput(attrs=NUMBER_ATTRS),
        help_text=_("If this person has handled an order for the enterprise before, nothing else is typed again."),
    )


class OrderDetailsForm(KeepsUploadsMixin, forms.Form):
    """Step 3: the handler's remaining data and photos, the business parameters, then submit.

    Only what the rules need is asked: name and address only for a new handler,
    the live photo only where H3 applies (optional elsewhere), the parameters of
    the chosen business only.
    """

    handler_name = forms.CharField(label=_("Handler's name"), max_length=NAME_MAX)
    handler_id_address = forms.CharField(label=_("Handler's ID address"), max_length=ADDRESS_MAX)
    handler_id_photo = forms.FileField(
        label=_("Photo of the handler's original ID"),
        widget=forms.ClearableFileInput(attrs=ID_PHOTO_ATTRS),
        help_text=_("Every order takes a fresh photo of the ID. On a phone or tablet this opens the camera."),
    )
    # Where H3 applies, the handler's live capture (issue 9 §3): the head moves asked, filmed as frames
    # (static/js/liveness_capture.js fills these inputs); the one live photo is then only the fallback.
    frames = FramesField(label=_("Live capture of the handler"), required=False)
    timestamps = forms.CharField(required=False, widget=forms.HiddenInput(attrs={"data-timestamps-input": ""}))
    challenge = forms.CharField(required=False, widget=forms.HiddenInput)
    handler_live_photo = forms.FileField(
        label=_("Live photo of the handler"),
        widget=forms.ClearableFileInput(attrs=LIVE_PHOTO_ATTRS),
    )
    target_enterprise = EnterpriseField(label=_("Transfer the cards to"), by_credential=True)
    data = forms.ChoiceField(label=_("Data"), required=False)  # type: ignore[assignment]  # a field: the metaclass lifts it off the class
    voice = forms.ChoiceField(label=_("Voice"), required=False)
    sms = forms.ChoiceField(label=_("SMS"), required=False)
    package = forms.ModelChoiceField(
        label=_("Package"),
        queryset=Package.objects.none(),
        to_field_name="code",
        required=False,
        empty_label=_("Unchanged"),
    )
    action = forms.ChoiceField(
        label=_("Suspend or resume"),
        choices=[(SUSPEND, _("Suspend the cards")), (RESUME, _("Resume the cards"))],
        widget=forms.RadioSelect,
    )
    credential_photo = forms.FileField(
        label=_("Fresh photo of the original credential (optional)"),
        required=False,
        widget=forms.ClearableFileInput(attrs=ID_PHOTO_ATTRS),
    )
    responsible_id_photo = forms.FileField(
        label=_("Fresh photo of the responsible person's original ID (optional)"),
        required=False,
        widget=forms.ClearableFileInput(attrs=ID_PHOTO_ATTRS),
    )

    def __init__(
        self,
        *args,
        business_type: str,
        enterprise,
        cards,
        returning_handler: bool,
        user,
        fresh_documents_required: bool = False,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.business_type = business_type
        self.cards = list(cards)
        self.gated = is_face_gated(business_type)
        if returning_handler:
            del self.fields["handler_name"]
            del self.fields["handler_id_address"]
        live = self.fields["handler_live_photo"]
        # Where H3 applies the capture or the fallback photo is required: clean() says which is missing.
        live.required = False
        if self.gated:
            live.label = _("Or one live photo of the handler")
            live.help_text = _(
                "Only where the camera capture cannot be used (rule H3): one photo does not prove that the handler "
                "is present, so a reviewer decides even when the faces match. On a phone or tablet this opens the "
                "front camera."
            )
        else:
            for name in ("frames", "timestamps", "challenge"):
                del self.fields[name]
            live.label = _("Live photo of the handler (optional)")
            live.help_text = _("Optional for this business: it is stored with the order, and no comparison is made.")
        credential = self.fields["credential_photo"]
        responsible = self.fields["responsible_id_photo"]
        if not enterprise.requires_number:
            credential.label = _("Fresh unit introduction letter or official letter with seal (optional)")
            credential.widget.attrs = dict(IMAGE_OR_PDF_ATTRS)
        self.fresh_documents_required = fresh_documents_required
        if fresh_documents_required:
            # E2, P3: a later business of a registered enterprise takes both fresh photos; the service
            # refuses the order without them, the form says so before anything is sent.
            credential.required = responsible.required = True
            credential.label = (
                _("Fresh photo of the original credential")
                if enterprise.requires_number
                else _("Fresh unit introduction letter or official letter with seal")
            )
            responsible.label = _("Fresh photo of the responsible person's original ID")
            credential.error_messages["required"] = fresh_credential_message(enterprise)
            responsible.error_messages["required"] = MSG_FRESH_RESPONSIBLE
        self.new_iccid_fields: list[tuple[str, str]] = []
        self._parameter_fields(business_type, enterprise, user)

    def _parameter_fields(self, business_type, enterprise, user) -> None:
        """The fields of the parameters the business takes (cards.models.BUSINESSES); the others go."""
        self.parameter_keys = BUSINESSES[business_type].parameters
        keep = set(self.parameter_keys)
        if "target_enterprise" in keep:
            target = self.fields["target_enterprise"]
            assert isinstance(target, EnterpriseField)  # self.fields holds any Field
            target.queryset = enterprises_to_pick(user).exclude(pk=enterprise.pk)
        choices = [("", _("Unchanged")), *ServiceLevelChoices.choices]
        for name in SERVICE_FIELDS:
            if name in keep:
                level = self.fields[name]
                assert isinstance(level, forms.ChoiceField)  # self.fields holds any Field
                level.choices = choices
        if "package" in keep:
            package = self.fields["package"]
            assert isinstance(package, forms.ModelChoiceField)
            package.queryset = Package.objects.filter(is_active=True).order_by("code")
        for name in PARAMETER_FIELDS:
            if name not in keep:
                del self.fields[name]
        if "new_iccids" in keep:
            for index, card in enumerate(self.cards):
                name = f"new_iccid_{index}"
                self.fields[name] = forms.CharField(
                    label=_("New ICCID for card %(iccid)s") % {"iccid": card.iccid},
                    max_length=32,
                    widget=forms.TextInput(attrs={**NUMBER_ATTRS, "class": "mono", "inputmode": "numeric"}),
                )
                self.new_iccid_fields.append((name, card.iccid))

    def clean(self):
        data = super().clean()
        if self.gated:
            clean_capture_or_photo(
                self,
                data,
                photo_field="handler_live_photo",
                missing=_("Take the handler's live capture (or, without a camera, one live photo)."),
            )
        return data

    def parameter_field_names(self) -> list[str]:
        names = [n for n in PARAMETER_FIELDS if n in self.fields]
        return names + [name for name, _iccid in self.new_iccid_fields]

    def parameters(self) -> dict:
        """The business's parameters, as the service takes them."""
        data = self.cleaned_data
        params: dict = {}
        for key in self.parameter_keys:
            if key == "target_enterprise":
                params[key] = str(data[key].public_id)
            elif key in SERVICE_FIELDS:
                if data.get(key):
                    params[key] = data[key]
            elif key == "package":
                if data.get(key):
                    params[key] = data[key].code
            elif key == "new_iccids":
                params[key] = {iccid: data[name] for name, iccid in self.new_iccid_fields}
            else:
                params[key] = data[key]
        return params


class LivePhotoRetakeForm(forms.Form):
    handler_live_photo = forms.FileField(
        label=_("New live photo of the handler"),
        widget=forms.ClearableFileInput(attrs=LIVE_PHOTO_ATTRS),
        help_text=_(
            "One face, looking at the camera, in good light. On a phone or tablet this opens the front camera."
        ),
    )


class OrderFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Order number or ICCID"),
        required=False,
        max_length=64,
        widget=DirectTextInput(attrs={"autocomplete": "off", "type": "search"}),
    )
    # The list's filters, drawn on each of its requests: widgets that write their HTML directly (core.widgets).
    status = forms.ChoiceField(label=_("Status"), required=False, widget=DirectSelect)
    business_type = forms.ChoiceField(label=_("Business type"), required=False, widget=DirectSelect)
    # A text box over the name index (issue 12 §1.2); an enterprise's own admin has nothing to choose.
    enterprise = EnterpriseField(label=_("Enterprise"), required=False)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if user is None or (user.role == Role.ENTERPRISE_ADMIN and not user.is_superuser):
            del self.fields["enterprise"]
        else:
            enterprise = self.fields["enterprise"]
            assert isinstance(enterprise, EnterpriseField)  # self.fields holds any Field
            enterprise.queryset = enterprises_to_pick(user).select_related(None)
        self.fields["status"].choices = [("", _("Any status")), *OrderStatus.choices]
        self.fields["business_type"].choices = [("", _("Any business")), *BusinessType.choices]
