"""Portal pages of callback endpoints (/platform/webhooks/), for the enterprise's admin and account manager.

An enterprise's endpoints and the form to add one (or change one); an endpoint's page with its delivery attempts (newest
first) and their resend buttons, "send a test event", secret rotation, disable, enable and delete. Every
change is a POST (CSRF) to the same services as the API. The signing secret is shown only on the answer to
a create or a rotation, never stored in a page or a URL.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from core.errors import PAGE_ERRORS, DomainError
from core.forms import add_domain_error
from core.http import no_store, require_form_methods
from core.keyset import DateJump, Keyset
from integrations.webhooks import selectors, services

# Newest first (the endpoint's attempts go through its deliveries: a join, at most the endpoint's rows).
ATTEMPT_KEYSET = Keyset("webhook_attempts", ("-attempted_at", "-pk"), per_page=50, jump=DateJump())


class EndpointCreateForm(forms.Form):
    url = forms.CharField(
        label=_("Callback URL"),
        max_length=services.URL_MAX_LENGTH,
        widget=forms.URLInput(attrs={"class": "mono", "placeholder": "https://"}),
        help_text=_("https:// only. It may not point to a private, loopback or link-local address."),
    )
    events = forms.MultipleChoiceField(
        label=_("Event types"),
        required=False,
        choices=[(event, event) for event in services.SUBSCRIBABLE],
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Choose none to receive every event type."),
    )
    description = forms.CharField(
        label=_("Description (optional)"), required=False, max_length=services.DESCRIPTION_MAX_LENGTH
    )


class RotateSecretForm(forms.Form):
    grace_hours = forms.IntegerField(
        label=_("Hours the old secret still signs"),
        initial=services.DEFAULT_GRACE_HOURS,
        min_value=0,
        max_value=services.MAX_GRACE_HOURS,
    )


def _issued(request, endpoint, secret: str, *, rotated: bool = False):
    context = {"endpoint": endpoint, "enterprise": endpoint.enterprise, "secret": secret, "rotated": rotated}
    return no_store(render(request, "integrations/webhook_issued.html", context))


@login_required
@never_cache
@require_form_methods
def endpoint_list(request, public_id):
    """An enterprise's endpoints and the form to add one."""
    user = request.user
    enterprise = selectors.enterprise_for_webhooks(user, public_id)
    form = EndpointCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = services.endpoint_create(
                actor=user,
                enterprise=enterprise,
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                description=form.cleaned_data["description"],
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            return _issued(request, endpoint, secret)
    endpoints = selectors.endpoints_visible_to(user).filter(enterprise=enterprise)
    context = {"enterprise": enterprise, "form": form, "endpoints": endpoints}
    return render(request, "integrations/webhooks.html", context, status=400 if form.errors else 200)


@login_required
@never_cache
@require_form_methods
def endpoint_detail(request, public_id):
    """One endpoint: its delivery attempts, newest first, and what can be done to it."""
    endpoint = selectors.endpoint_for_user(request.user, public_id)
    form = RotateSecretForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = services.endpoint_rotate_secret(
                actor=request.user, endpoint=endpoint, grace_hours=form.cleaned_data["grace_hours"]
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            return _issued(request, endpoint, secret, rotated=True)
    attempts = ATTEMPT_KEYSET.page(selectors.attempts_of(endpoint), request.GET)
    context = {"endpoint": endpoint, "enterprise": endpoint.enterprise, "attempts": attempts, "rotate_form": form}
    return render(request, "integrations/webhook_detail.html", context, status=400 if form.errors else 200)


@login_required
@never_cache
@require_form_methods
def endpoint_edit(request, public_id):
    """Change the URL (checked again like a new one), the event types or the description."""
    endpoint = selectors.endpoint_for_user(request.user, public_id)
    initial = {"url": endpoint.url, "events": endpoint.events, "description": endpoint.description}
    form = EndpointCreateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.endpoint_update(actor=request.user, endpoint=endpoint, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            return _done(request, endpoint, _("The endpoint is changed."))
    context = {"endpoint": endpoint, "enterprise": endpoint.enterprise, "form": form}
    return render(request, "integrations/webhook_edit.html", context, status=400 if form.errors else 200)


def _done(request, endpoint, message, *, to_list: bool = False):
    messages.success(request, message)
    if to_list:
        return redirect("webhooks:list", public_id=endpoint.enterprise.public_id)
    return redirect("webhooks:detail", public_id=endpoint.public_id)


def _refused(request, endpoint, exc: DomainError):
    """A refusal of the endpoint's state (already disabled, disabled): said on its page; 404/403 pass on."""
    if isinstance(exc, PAGE_ERRORS):
        raise exc
    messages.error(request, str(exc.message))
    return redirect("webhooks:detail", public_id=endpoint.public_id)


@login_required
@require_POST
def endpoint_disable(request, public_id):
    endpoint = selectors.endpoint_for_user(request.user, public_id)
    try:
        services.endpoint_disable(actor=request.user, endpoint=endpoint)
    except DomainError as exc:
        return _refused(request, endpoint, exc)
    return _done(request, endpoint, _("The endpoint is disabled: nothing is sent to it until it is enabled."))


@login_required
@require_POST
def endpoint_enable(request, public_id):
    endpoint = selectors.endpoint_for_user(request.user, public_id)
    try:
        services.endpoint_enable(actor=request.user, endpoint=endpoint)
    except DomainError as exc:
        return _refused(request, endpoint, exc)
    return _done(request, endpoint, _("The endpoint is enabled. Resend what it missed from its deliveries."))


@login_required
@require_POST
def endpoint_delete(request, public_id):
    endpoint = selectors.endpoint_for_user(request.user, public_id)
    services.endpoint_delete(actor=request.user, endpoint=endpoint)
    return _done(request, endpoint, _("The endpoint is deleted."), to_list=True)


@login_required
@require_POST
def send_test(request, public_id):
    endpoint = selectors.endpoint_for_user(request.user, public_id)
    try:
        event = services.send_test_event(actor=request.user, endpoint=endpoint)
    except DomainError as exc:
        return _refused(request, endpoint, exc)
    message = _("A test event (%(id)s) is on its way; its attempt appears below.") % {"id": event.public_id}
    return _done(request, endpoint, message)


@login_required
@require_POST
def delivery_resend(request, public_id, attempt_id):
    endpoint = selectors.endpoint_for_user(request.user, public_id)
    attempt = selectors.attempt_for_user(request.user, endpoint, attempt_id)
    try:
        delivery = services.delivery_resend(actor=request.user, attempt=attempt)
    except DomainError as exc:
        return _refused(request, endpoint, exc)
    message = _("The event %(id)s is sent again.") % {"id": delivery.event.public_id}
    return _done(request, endpoint, message)
