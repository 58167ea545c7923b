"""Portal pages of self-service links: the staff pages (/cards/self-service/) and the public link (/s/<token>/).

Staff pages: an enterprise's links with their uses and status, the create form (numbers pasted or from a
CSV/TXT file), revoke and renew (POST, CSRF). The URL, QR code and poster of a link can be shown only when
its token is at hand, i.e. on the answer to a create or to a renewal that issued a new token.

Public pages, anonymous and rate-limited per client IP: the link's page, its QR codes and its A4 poster,
all under the token's own path, so that the token is never in a query string and never stored.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from accounts.permissions import Capability
from cards.inventory.picker import PickerPurpose, unbound_live, with_picked_all
from cards.models import (
    SELF_SERVICE_LINK_DEFAULT_DAYS,
    SELF_SERVICE_LINK_MAX_DAYS,
    HandoverStatus,
    SelfServiceLinkKind,
    SelfServiceLinkStatus,
)
from cards.self_service import qr, selectors, services
from cards.self_service.card_lists import MAX_CARDS, read_card_file, split_identifiers
from cards.self_service.throttling import link_page_throttle
from core.errors import DomainError
from core.forms import add_domain_error
from core.http import camera_allowed, no_store, require_form_methods
from enterprises import selectors as enterprise_selectors

DEFAULT_MAX_USES = 500
# Pages whose path (or content) holds a token: the token must reach no other site as a Referer. Not
# no-referrer: under it browsers send `Origin: null` with the page's own form posts, which Django's CSRF
# check refuses (every phone step, every revoke or take-back), while same-origin keeps the Referer at home.
TOKEN_PAGE_REFERRER_POLICY = "same-origin"
# A link's card users register themselves, so it lists cards that have no registered user yet.
LINK_PICKER = PickerPurpose(capability=Capability.SELF_SERVICE_LINKS_MANAGE, limit=MAX_CARDS, eligible=unbound_live)


class LinkCreateForm(forms.Form):
    label = forms.CharField(
        label=_("Label"),
        max_length=services.LABEL_MAX_LENGTH,
        help_text=_("What the link is for, e.g. the site or the batch of cards. Card users do not see it."),
    )
    cards = forms.CharField(
        label=_("Cards (optional)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "class": "mono"}),
        help_text=_(
            "ICCIDs or MSISDNs of the enterprise's cards, one per line or separated by commas. Leave empty "
            "(and choose no file) to cover every card of the enterprise that awaits real-name."
        ),
    )
    card_file = forms.FileField(
        label=_("Or a card list file (CSV or TXT)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,text/csv,text/plain"}),
    )
    expires_in_days = forms.IntegerField(
        label=_("Valid for (days)"),
        initial=SELF_SERVICE_LINK_DEFAULT_DAYS,
        min_value=1,
        max_value=SELF_SERVICE_LINK_MAX_DAYS,
    )
    max_uses = forms.IntegerField(label=_("Uses allowed"), initial=DEFAULT_MAX_USES, min_value=1)


class LinkRenewForm(forms.Form):
    expires_in_days = forms.IntegerField(
        label=_("Valid for (days) from now"),
        initial=SELF_SERVICE_LINK_DEFAULT_DAYS,
        min_value=1,
        max_value=SELF_SERVICE_LINK_MAX_DAYS,
    )
    max_uses = forms.IntegerField(label=_("Uses allowed"), min_value=1)


def _issued(request, link, token: str, *, renewed: bool = False):
    """The page that shows a link's URL, QR code and poster: only right after its token was issued."""
    url = request.build_absolute_uri(reverse("self_service_public:link", kwargs={"token": token}))
    context = {"link": link, "enterprise": link.enterprise, "token": token, "url": url, "renewed": renewed}
    response = render(request, "cards/self_service_issued.html", context)
    response["Referrer-Policy"] = TOKEN_PAGE_REFERRER_POLICY
    return no_store(response)


@login_required
@never_cache
@require_form_methods
@camera_allowed  # the card picker's barcode scan
def link_list(request, public_id):
    """An enterprise's links and the form to create one."""
    user = request.user
    selectors.require_manager(user)
    enterprise = enterprise_selectors.enterprise_for_action(user, public_id, capability=selectors.MANAGE)
    posted = None
    if request.method == "POST":
        posted = with_picked_all(
            user, request.POST, field="cards", purpose_name="self_service", enterprise_id=enterprise.public_id
        )
    form = LinkCreateForm(posted or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            identifiers = split_identifiers(data["cards"])
            if data["card_file"]:
                identifiers += read_card_file(data["card_file"])
            link, token = services.link_create(
                actor=user,
                enterprise=enterprise,
                label=data["label"],
                identifiers=identifiers,
                expires_in_days=data["expires_in_days"],
                max_uses=data["max_uses"],
            )
        except DomainError as exc:
            add_domain_error(form, _on_form(exc))
        else:
            return _issued(request, link, token)
    links = list(selectors.links_visible_to(user).filter(enterprise=enterprise))
    for link in links:
        link.covered = selectors.awaiting_cards_count(link)
    context = {"enterprise": enterprise, "form": form, "links": links, "statuses": SelfServiceLinkStatus}
    return render(request, "cards/self_service_links.html", context, status=400 if form.errors else 200)


def _on_form(exc: DomainError) -> DomainError:
    # The API names the list "iccids"; on the page it is the text area.
    if exc.field == "iccids":
        exc.field = "cards"
    return exc


@login_required
@require_POST
def link_revoke(request, public_id):
    link = selectors.link_for_user(request.user, public_id)
    services.link_revoke(actor=request.user, link=link)
    messages.success(request, _("The link “%(label)s” is revoked: it no longer opens.") % {"label": link.label})
    return redirect("self_service:list", public_id=link.enterprise.public_id)


@login_required
@never_cache
@require_form_methods
def link_renew(request, public_id):
    link = selectors.link_for_user(request.user, public_id)
    form = LinkRenewForm(request.POST or None, initial={"max_uses": link.max_uses})
    if request.method == "POST" and form.is_valid():
        try:
            link, token = services.link_renew(
                actor=request.user,
                link=link,
                expires_in_days=form.cleaned_data["expires_in_days"],
                max_uses=form.cleaned_data["max_uses"],
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            if token:
                return _issued(request, link, token, renewed=True)
            messages.success(request, _("The link is renewed; its URL and QR code stay the same."))
            return redirect("self_service:list", public_id=link.enterprise.public_id)
    return render(
        request,
        "cards/self_service_renew.html",
        {"link": link, "enterprise": link.enterprise, "form": form, "new_token": link.status in _NEW_TOKEN},
        status=400 if form.errors else 200,
    )


_NEW_TOKEN = (SelfServiceLinkStatus.REVOKED, SelfServiceLinkStatus.EXPIRED)


# --- public pages (anonymous) ------------------------------------------------------

# What the card user is told for each status that is not active, and the HTTP status it is sent with.
GONE_TEXTS = {
    SelfServiceLinkStatus.REVOKED: _("This link has been withdrawn by the enterprise that sent it."),
    SelfServiceLinkStatus.EXPIRED: _("This link has expired."),
    SelfServiceLinkStatus.EXHAUSTED: _("This link has been used as many times as it allows."),
}
MSG_UNKNOWN = _("This link is not valid. Check that it was copied whole.")
MSG_ASK = _(
    "For a new link, ask the enterprise that gave you this one (your employer or the company that issued your card)."
)
MSG_ASK_NAMED = _("For a new link, ask %(enterprise)s, the enterprise that sent it.")
# A counter's handover (C1): the person stands at the counter, so they ask there.
MSG_HANDOVER_TAKEN_BACK = _(
    "The account manager has taken this registration back to the counter: this phone can no longer submit it."
)
MSG_ASK_COUNTER = _("Ask the account manager at the counter.")


def _public(response: HttpResponse) -> HttpResponse:
    # The path holds the token: it must reach no other site as a Referer, and no cache may keep the page.
    response["Referrer-Policy"] = TOKEN_PAGE_REFERRER_POLICY
    response["X-Robots-Tag"] = "noindex, nofollow"
    return no_store(response)


def _texts(message, ask, params: dict) -> list[dict]:
    """The message in the page's language, then in English when that is another one."""
    texts = [{"lang": translation.get_language(), "message": str(message), "ask": str(ask) % params}]
    if not (translation.get_language() or "").startswith("en"):
        with translation.override("en"):
            texts.append({"lang": "en", "message": str(message), "ask": str(ask) % params})
    return texts


def _gone(request, link) -> HttpResponse:
    """Unknown (404) or no longer usable (410): what happened and whom to ask; nothing personal."""
    if link is None:
        status_code, texts = 404, _texts(MSG_UNKNOWN, MSG_ASK, {})
    else:
        message = GONE_TEXTS[SelfServiceLinkStatus(link.status)]
        ask = MSG_ASK_NAMED
        if link.kind == SelfServiceLinkKind.HANDOVER:
            ask = MSG_ASK_COUNTER
            if link.handover_status == HandoverStatus.COUNTER:
                message = MSG_HANDOVER_TAKEN_BACK
        status_code, texts = 410, _texts(message, ask, {"enterprise": link.enterprise.name})
    return _public(render(request, "self_service/gone.html", {"texts": texts}, status=status_code))


def _usable(request, token: str):
    link_page_throttle(request)
    link = selectors.link_for_token(token)
    return link if link is not None and link.is_active else None, link


def _qr(request, token: str, render_qr, content_type: str) -> HttpResponse:
    active, link = _usable(request, token)
    if active is None:
        return _gone(request, link)
    url = request.build_absolute_uri(reverse("self_service_public:link", kwargs={"token": token}))
    response = HttpResponse(render_qr(url), content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    return _public(response)


@never_cache
@require_safe
def public_qr_svg(request, token):
    return _qr(request, token, qr.qr_svg, qr.SVG_TYPE)


@never_cache
@require_safe
def public_qr_png(request, token):
    return _qr(request, token, qr.qr_png, qr.PNG_TYPE)


@never_cache
@require_safe
def public_poster(request, token):
    """The printable A4 poster: the enterprise's name, the steps a card user follows, the QR code."""
    active, link = _usable(request, token)
    if active is None:
        return _gone(request, link)
    url = request.build_absolute_uri(reverse("self_service_public:link", kwargs={"token": token}))
    context = {"enterprise": link.enterprise, "link": link, "token": token, "url": url}
    return _public(render(request, "self_service/poster.html", context))
