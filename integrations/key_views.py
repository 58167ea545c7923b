"""Portal pages of platform API keys (issue 10 §1), under /platform/keys/ (namespace "platform_keys").

An enterprise admin (own enterprise) or an account manager (own province's enterprises) lists an
enterprise's keys, creates one, rotates one with a grace period and revokes one, through the same services
as the API (integrations.keys). The key itself is on the one answer that issued it: that page is no-store and
sends no Referer, and nothing else can show the key again, since only its hash is kept. The same page resets
the enterprise's sandbox, where its test keys act (enterprises.sandbox, issue 10 §5).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from accounts.permissions import Capability, can, may_somewhere, require
from core.errors import DomainError, NotFound, PermissionDenied
from core.forms import add_domain_error
from core.http import no_store, require_form_methods
from enterprises import selectors as enterprise_selectors
from enterprises.sandbox import sandbox_of, sandbox_reset
from integrations import keys
from integrations.api import MANAGE, key_for_user, keys_visible_to
from integrations.key_models import PlatformKey
from integrations.scopes import KeyScope

SCOPE_LABELS = {
    KeyScope.CARDS_READ: _("Read cards (cards:read)"),
    KeyScope.CARDS_WRITE: _("Manage and import cards (cards:write)"),
    KeyScope.CARD_USERS_WRITE: _("Register card users (card_users:write)"),
    KeyScope.ORDERS_WRITE: _("File orders (orders:write)"),
    KeyScope.WEBHOOKS_MANAGE: _("Manage callbacks (webhooks:manage)"),
}
KINDS = (("live", _("Live key (rnk_live_): real records")), ("test", _("Test key (rnk_test_): the sandbox only")))


class KeyCreateForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=keys.NAME_MAX_LENGTH,
        help_text=_("What the key is for, e.g. the system that uses it."),
    )
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"),
        choices=[(scope.value, SCOPE_LABELS[scope]) for scope in KeyScope],
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Give the key only what the system needs."),
    )
    expires_in_days = forms.IntegerField(
        label=_("Valid for (days)"), initial=keys.MAX_EXPIRY_DAYS, min_value=1, max_value=keys.MAX_EXPIRY_DAYS
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=KINDS, initial="live", widget=forms.RadioSelect)


class KeyRotateForm(forms.Form):
    grace_hours = forms.IntegerField(
        label=_("Hours the old key keeps working"),
        initial=keys.DEFAULT_GRACE_HOURS,
        min_value=0,
        max_value=keys.MAX_GRACE_HOURS,
        help_text=_("Long enough to deploy the new key everywhere the old one is used."),
    )


def require_manager(user) -> None:
    """403 for a role that manages no keys anywhere (approvers, ops), before any lookup can answer 404."""
    if not may_somewhere(user, MANAGE):
        raise PermissionDenied(keys.MSG_NOT_ALLOWED)


def _issued(request, record: PlatformKey, key: str, *, rotated_from: PlatformKey | None = None):
    """The only page that shows a key: right after it was issued, never cached, never sent on as a Referer."""
    context = {"record": record, "key": key, "enterprise": record.enterprise, "rotated_from": rotated_from}
    response = render(request, "integrations/key_issued.html", context)
    response["Referrer-Policy"] = "no-referrer"
    return no_store(response)


@login_required
@never_cache
@require_form_methods
def key_list(request, public_id):
    """An enterprise's keys (never the keys themselves) and the form to create one."""
    user = request.user
    require_manager(user)
    enterprise = enterprise_selectors.enterprise_for_action(user, public_id, capability=MANAGE)
    form = KeyCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            record, key = keys.key_create(
                actor=user,
                enterprise=enterprise,
                name=data["name"],
                scopes=data["scopes"],
                expires_in_days=data["expires_in_days"],
                test=data["kind"] == "test",
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            return _issued(request, record, key)
    context = {
        "enterprise": enterprise,
        "form": form,
        "keys": keys_visible_to(user).filter(enterprise=enterprise),
        "sandbox": sandbox_of(enterprise),
        "can_reset_sandbox": can(user, Capability.SANDBOX_RESET, enterprise),
    }
    return render(request, "integrations/key_list.html", context, status=400 if form.errors else 200)


@login_required
@never_cache
@require_form_methods
def key_rotate(request, public_id):
    """GET: the grace period form; POST: the successor key, shown once."""
    require_manager(request.user)
    record = key_for_user(request.user, public_id)
    form = KeyRotateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            new, key = keys.key_rotate(actor=request.user, key=record, grace_hours=form.cleaned_data["grace_hours"])
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            record.refresh_from_db()
            return _issued(request, new, key, rotated_from=record)
    context = {"record": record, "enterprise": record.enterprise, "form": form}
    return render(request, "integrations/key_rotate.html", context, status=400 if form.errors else 200)


@login_required
@never_cache
@require_form_methods
def key_revoke(request, public_id):
    """GET: the confirmation; POST: the key answers 401 from now on."""
    require_manager(request.user)
    record = key_for_user(request.user, public_id)
    if request.method == "POST":
        try:
            keys.key_revoke(actor=request.user, key=record)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, _("The key %(prefix)s… is revoked: calls with it now fail.") % {"prefix": record.prefix}
            )
        return redirect("platform_keys:list", public_id=record.enterprise.public_id)
    return render(request, "integrations/key_revoke.html", {"record": record, "enterprise": record.enterprise})


@login_required
@require_form_methods
def key_mine(request):
    """The navigation's entry for an enterprise admin: the keys of their own enterprise."""
    user = request.user
    require_manager(user)
    enterprise = enterprise_selectors.enterprises_visible_to(user).filter(pk=getattr(user, "enterprise_id", None))
    own = enterprise.first()
    if own is None:
        raise NotFound(_("Open the API keys from the enterprise's page."))
    return redirect("platform_keys:list", public_id=own.public_id)


@login_required
@never_cache
@require_form_methods
def sandbox_reset_view(request, public_id):
    """GET: the confirmation; POST: the sandbox of the test keys is back to its seeded cards (issue 10 §5)."""
    user = request.user
    require_manager(user)
    enterprise = enterprise_selectors.enterprise_for_action(user, public_id, capability=MANAGE)
    require(user, Capability.SANDBOX_RESET, enterprise)
    sandbox = sandbox_of(enterprise)
    if sandbox is None:
        raise NotFound(_("This enterprise has no sandbox yet: it is created with its first test key."))
    if request.method == "POST":
        sandbox_reset(actor=user, enterprise=enterprise)
        messages.success(request, _("The sandbox is reset: its test records are deleted and its cards seeded again."))
        return redirect("platform_keys:list", public_id=enterprise.public_id)
    return render(request, "integrations/sandbox_reset.html", {"enterprise": enterprise, "sandbox": sandbox})
