"""The phone flow's pages under /s/<token>/ (issue 9 §2): anonymous, bound to the link by the Django session.

The token is only ever in the path; no page puts personal data in a URL; every answer is no-store and sends
no Referer. The pages check shapes; cards.self_service.phone and the card-user services decide.
"""

from __future__ import annotations

import json
from typing import cast

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from cards.card_users.forms import CardUserRegisterForm, PhotoInput
from cards.self_service import phone
from cards.self_service.card_lists import split_identifiers
from cards.self_service.throttling import phone_flow_throttle
from cards.self_service.views import _gone, _public, _usable
from core.errors import DomainError, InvalidTransition
from core.forms import add_domain_error
from core.http import camera_allowed, require_form_methods
from core.identity import IdentityError, validate_personal_id

_STAFF_FIELDS = CardUserRegisterForm.base_fields


class ConsentForm(forms.Form):
    consent = forms.BooleanField(
        label=_(
            "I have read the notice above and consent to the processing of my personal information, including "
            "the separate, explicit consent to face recognition on my live photos and my ID photo."
        ),
        error_messages={"required": _("Registration needs your consent. Without it nothing is collected.")},
    )


class CardsForm(forms.Form):
    cards = forms.MultipleChoiceField(label=_("Your cards"), required=False, widget=forms.CheckboxSelectMultiple)
    typed = forms.CharField(
        label=_("Or type the ICCID or the phone number (MSISDN) of your card"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "inputmode": "numeric", "autocomplete": "off"}),
        help_text=_("Several cards: separate them with spaces or new lines."),
    )

    def __init__(self, *args, pick: list, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["cards"]).choices = [(card.iccid, card.iccid) for card in pick]
        if not pick:
            del self.fields["cards"]

    def clean_typed(self) -> list[str]:
        return split_identifiers(self.cleaned_data["typed"] or "")


class IdentityForm(forms.Form):
    """The staff form's own fields (the same shapes), checked at once against the ID rules, as at submit."""

    name = _STAFF_FIELDS["name"]
    id_type = _STAFF_FIELDS["id_type"]
    id_number = _STAFF_FIELDS["id_number"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].label = _("Your name, as on your ID document")

    def clean(self):
        data = super().clean()
        if data.get("id_type") and data.get("id_number"):
            try:
                data["id_number"] = validate_personal_id(data["id_type"], data["id_number"])
            except IdentityError as exc:
                self.add_error("id_number", forms.ValidationError(exc.message, code=exc.code))
        return data


class PhotoForm(forms.Form):
    photo = forms.FileField(label=_("Photo"))

    def __init__(self, *args, capture: str, label, help_text, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["photo"].widget = PhotoInput(capture=capture)
        self.fields["photo"].label, self.fields["photo"].help_text = label, help_text


PHOTO_STEPS = {
    "id_photo": {
        "field": "id_photo",
        "capture": "environment",
        "label": _("Photo of your ID document"),
        "help_text": _("Photograph the front of the original ID with the back camera, the whole card in view."),
    },
    "live": {
        "field": "live_photo",
        "capture": "user",
        "label": _("A live photo of you"),
        "help_text": _("Take it now with the front camera: your face straight to the camera, only you in view."),
    },
}
STEP_TITLES = {
    "cards": _("Your card"),
    "identity": _("Your name and ID number"),
    "id_photo": _("Photo of your ID document"),
    "live": _("A live photo of you"),
    "review": _("Check and submit"),
}


def _page(request, template: str, context: dict, status: int = 200) -> HttpResponse:
    return _public(render(request, template, context, status=status))


def _link_and_state(request, token: str):
    """(link, state) for an active link; (link, None) without a session on this device."""
    active, link = _usable(request, token)
    if active is None:
        return link, None, _gone(request, link)
    return link, phone.state_get(request, link), None


def _resume(token: str, state: dict) -> HttpResponse:
    if state.get("submitted"):
        return redirect("self_service_public:status", token=token)
    step = phone.next_step(state)
    return redirect("self_service_public:step", token=token, step=step)


@never_cache
@require_form_methods
def phone_start(request, token):
    """The consent (step 1); a session that already exists on this device resumes where it stopped."""
    link, state, gone = _link_and_state(request, token)
    if gone is not None:
        # A submitted registration stays visible from its device even once the link has no uses left.
        if link is not None and (state := phone.state_get(request, link)) and state.get("submitted"):
            return redirect("self_service_public:status", token=token)
        return gone
    if state is not None and request.method == "GET":
        return _resume(token, state)
    if state is None and request.method == "GET":
        phone.link_opened(link)
    form = ConsentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if state is None:
            phone_flow_throttle(request, link, "session")
            state = phone.state_start(request, link)
        phone.step_done(state, "consent")
        phone.state_save(request, link, state)
        return _resume(token, state)
    context = {"enterprise": link.enterprise, "link": link, "form": form}
    return _page(request, "self_service/link.html", context, status=400 if form.errors else 200)


@never_cache
@require_form_methods
def phone_step(request, token, step):
    # The live step films the person (static/js/liveness_capture.js): only there may the page use the camera,
    # which settings.PERMISSIONS_POLICY denies everywhere else (getUserMedia then fails on every phone).
    view = _step_with_camera if step == "live" else _step
    return view(request, token, step)


def _step(request, token, step):
    link, state, gone = _link_and_state(request, token)
    if gone is not None:
        return gone
    if step not in phone.STEPS or step == "consent":
        raise Http404
    if state is None:
        return redirect("self_service_public:link", token=token)
    if state.get("submitted"):
        if request.method == "POST":  # a second submit (a second tap, the page open in another tab)
            messages.warning(request, phone.MSG_ALREADY_SUBMITTED)
        return redirect("self_service_public:status", token=token)
    if not phone.may_open(state, step):
        return _resume(token, state)
    form = None
    if step == "cards":
        pick = phone.pick_list(link)
        form = CardsForm(request.POST or None, pick=pick, initial={"cards": []})
        if request.method == "POST" and form.is_valid():
            try:
                state["cards"] = phone.cards_choose(
                    link, picked=form.cleaned_data.get("cards", []), typed=form.cleaned_data["typed"]
                )
            except DomainError as exc:
                add_domain_error(form, exc)
    elif step == "identity":
        form = IdentityForm(request.POST or None, initial={"name": state.get("name"), "id_type": state.get("id_type")})
        if request.method == "POST" and form.is_valid():
            phone.identity_keep(state, **{k: form.cleaned_data[k] for k in ("name", "id_type", "id_number")})
    elif step == "live" and request.method == "POST" and "frames" in request.FILES:
        return _frames(request, link, state)
    elif step == "live" and request.method == "GET" and not phone.liveness_poll(state):
        phone.state_save(request, link, state)
        return _page(
            request, "self_service/phone_checking.html", {"enterprise": link.enterprise, "title": STEP_TITLES[step]}
        )
    elif step in PHOTO_STEPS:
        spec = PHOTO_STEPS[step]
        form = PhotoForm(
            request.POST or None,
            request.FILES or None,
            capture=spec["capture"],
            label=spec["label"],
            help_text=spec["help_text"],
        )
        if request.method == "POST" and form.is_valid():
            try:
                phone.photo_store(state, spec["field"], form.cleaned_data["photo"])
            except DomainError as exc:
                exc.field = "photo"
                add_domain_error(form, exc)
            else:
                if step == "live":  # the file-input fallback: one photo proves no presence
                    phone.fallback_photo_taken(state)
    elif step == "review" and request.method == "POST":
        return _submit(request, token, link, state)
    if request.method == "POST" and form is not None and not form.errors:
        phone.step_done(state, step)
        phone.state_save(request, link, state)
        return _resume(token, state)
    if step == "live" and "live" in state["done"] and request.method == "GET":
        phone.state_save(request, link, state)
        return _resume(token, state)
    phone.state_save(request, link, state)  # a page seen keeps the session alive
    context = {
        "enterprise": link.enterprise,
        "form": form,
        "step": step,
        "title": STEP_TITLES[step],
        "state": state,
        "has_photo": bool(state.get(PHOTO_STEPS[step]["field"])) if step in PHOTO_STEPS else False,
        "cards": list(link.enterprise.cards.filter(pk__in=state["cards"]).order_by("iccid")),
        "position": phone.STEPS.index(step) + 1,
        "steps": len(phone.STEPS),
        "id_type_label": dict(_STAFF_FIELDS["id_type"].choices).get(state.get("id_type"), ""),
    }
    if step == "live":
        context.update(_capture_context(request, link, state))
    if step == "review" and state.get("locked"):
        context["notice"] = phone.MSG_LOCKED
    status = 400 if form is not None and form.errors else 200
    return _page(request, "self_service/phone_step.html", context, status=status)


_step_with_camera = camera_allowed(_step)


CAPTURE_LABELS = {
    "left": _("Turn your head slowly to the left"),
    "right": _("Turn your head slowly to the right"),
    "straight": _("Look straight at the camera"),
    "get_ready": _("Get ready: your face in the middle of the picture"),
    "uploading": _("Sending…"),
    "uploaded": _("Sent. Checking…"),
    "upload_failed": _("Sending failed. Tap the button to try again."),
    "camera_denied": _("The camera cannot be used here. Take a photo below instead."),
}


def _capture_context(request, link, state) -> dict:
    challenge = phone.challenge_for(state)
    phone.state_save(request, link, state)
    return {
        "challenge": ",".join(challenge),
        "challenge_labels": [CAPTURE_LABELS[move] for move in challenge],
        "capture_labels": json.dumps({key: str(label) for key, label in CAPTURE_LABELS.items()}, ensure_ascii=False),
        "upload_url": request.path,
        "liveness_reasons": state.get("liveness_reasons") if state.get("failures") else [],
    }


def _frames(request, link, state) -> HttpResponse:
    """A capture's frames (from static/js/liveness_capture.js): stored, then checked on the faces queue."""
    try:
        phone.frames_store(state, request.FILES.getlist("frames"), request.POST.get("timestamps", ""))
    except DomainError as exc:
        phone.state_save(request, link, state)
        return _public(JsonResponse({"ok": False, "message": str(exc.message)}, status=400))
    phone.liveness_start(state)
    phone.state_save(request, link, state)
    return _public(JsonResponse({"ok": True, "done": "live" in state["done"]}))


def _submit(request, token, link, state) -> HttpResponse:
    phone_flow_throttle(request, link, "submit")
    try:
        phone.phone_submit(request, link, state)
    except InvalidTransition as exc:
        if exc.code != "already_submitted":
            raise
        messages.warning(request, exc.message)  # a second tap, or the page open in another tab
    return redirect("self_service_public:status", token=token)


@never_cache
@require_POST
def phone_restart(request, token):
    """Start again from the consent: what was typed and the photos taken are removed now."""
    _active, link = _usable(request, token)
    if link is not None:
        state = phone.state_get(request, link)
        if state is None or not state.get("submitted"):
            phone.state_clear(request, link)
    return redirect("self_service_public:link", token=token)


@never_cache
def phone_status_page(request, token):
    """The registration's status, from the device that submitted it (nothing personal is shown)."""
    # Whatever the link's status now: one used up or expired still shows what was submitted through it.
    _active, link = _usable(request, token)
    state = phone.state_get(request, link) if link is not None else None
    if link is None or state is None or not state.get("submitted"):
        return redirect("self_service_public:link", token=token)
    context = {"enterprise": link.enterprise, **phone.phone_status(state)}
    return _page(request, "self_service/phone_status.html", context)
